/** The actor layer's Node surface: the worker-thread runtime and `lattice build`. */
export { NodeActorRuntime, type NodeRuntimeOptions } from "./node-runtime.js";
export { buildActor, ActorBuildError, ENGINE_FEATURES, COMPONENTIZE_JS_VERSION, type BuildActorOptions, type BuiltActor, type EngineFeature } from "./build.js";
