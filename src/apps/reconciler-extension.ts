/** Running the app reconciler inside a host, on the host's connection and view. */
import type { Host, HostExtension } from "../host/host.js";
import { ErrorCode, LatticeError } from "../protocol/errors.js";
import type { Logger } from "../protocol/logging.js";
import { AppReconciler } from "./reconciler.js";

export interface ReconcilerExtension extends HostExtension {
  /** The reconciler, once the host has started it. */
  readonly reconciler: AppReconciler | undefined;
}

/** A host extension taking part in app reconciliation (one host in the lattice acts at a time). */
export function reconcilerExtension(opts: { intervalMs?: number; log?: Logger } = {}): ReconcilerExtension {
  let reconciler: AppReconciler | undefined;
  return {
    get reconciler() {
      return reconciler;
    },
    start(host: Host) {
      // Started twice, the first reconciler would be left running when its host stops.
      if (reconciler) throw new LatticeError(ErrorCode.BadRequest, "a reconciler extension runs in one host: give each host its own");
      reconciler = new AppReconciler({
        nc: host.connection,
        lattice: host.lattice,
        hostId: host.id,
        liveHosts: () => host.view.hosts().map((h) => h.info.id),
        jsDomain: host.jsDomain,
        intervalMs: opts.intervalMs ?? host.heartbeatMs,
        log: opts.log,
      }).start();
    },
    async stop() {
      await reconciler?.stop();
      reconciler = undefined;
    },
  };
}
