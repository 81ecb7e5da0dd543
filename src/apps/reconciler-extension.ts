/** Running the app reconciler inside a host, on the host's connection and view. */
import type { Host, HostExtension } from "../host/host.js";
import { ErrorCode, LatticeError } from "../protocol/errors.js";
import type { Logger } from "../protocol/logging.js";
import { LatticeView } from "../nats/lattice-view.js";
import { Subjects } from "../protocol/subjects.js";
import { AppReconciler } from "./reconciler.js";

export interface ReconcilerExtension extends HostExtension {
  /** The reconciler, once the host has started it. */
  readonly reconciler: AppReconciler | undefined;
}

/** A host extension taking part in app reconciliation (one host in the lattice acts at a time). */
export function reconcilerExtension(opts: { intervalMs?: number; log?: Logger } = {}): ReconcilerExtension {
  let reconciler: AppReconciler | undefined;
  let own: { view: LatticeView; seeded: Promise<void> } | undefined;
  let liveView: () => Promise<LatticeView>;
  let lender: Host | undefined;
  return {
    get reconciler() {
      return reconciler;
    },
    start(host: Host) {
      // Started twice, the first reconciler would be left running when its host stops.
      if (reconciler) throw new LatticeError(ErrorCode.BadRequest, "a reconciler extension runs in one host: give each host its own");
      // A lean host's view cannot tell the dead from the living: the reconciler keeps a live one
      // of its own, from its first pass (only the lease holder makes passes), so only it hears heartbeats.
      liveView = async () => {
        if (host.view.live) return host.view;
        if (!own) {
          const view = new LatticeView(host.connection, new Subjects(host.lattice), { selfId: host.id });
          own = { view, seeded: view.start() };
          // Its count ends the lattice's gathers early, as a full host's does.
          host.lendLiveView(view);
          lender = host;
        }
        await own.seeded;
        return own.view;
      };
      reconciler = new AppReconciler({
        nc: host.connection,
        lattice: host.lattice,
        hostId: host.id,
        liveHosts: async () => (await liveView()).hosts().map((h) => h.info.id),
        jsDomain: host.jsDomain,
        intervalMs: opts.intervalMs ?? host.heartbeatMs,
        log: opts.log,
      }).start();
    },
    async stop() {
      await reconciler?.stop();
      reconciler = undefined;
      lender?.lendLiveView(undefined);
      lender = undefined;
      own?.view.stop();
      own = undefined;
    },
  };
}
