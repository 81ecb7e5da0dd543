/** Declarative apps: manifests, their store, and the reconciler that holds the lattice to them. */
export { AppStore, appsBucketName, canonical, type AppStoreOptions, type DeployResult } from "./app-store.js";
export { AppReconciler, type ReconcilerOptions } from "./reconciler.js";
export { reconcilerExtension, type ReconcilerExtension } from "./reconciler-extension.js";
export { ManifestError, parseManifest, checkManifest, parseSelector, type LatticeChecks, type ManifestProblem } from "./manifest.js";
export { planComponent, weightedShares, type ComponentPlan } from "./plan.js";
export { KvLease } from "./lease.js";
