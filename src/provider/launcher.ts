/**
 * How a host starts provider processes: the interface its provider supervisor uses, implemented
 * at the edge (Node: a child process with an IPC channel, node-launcher.ts; a browser host would
 * bring its own or none).
 */
import type { ProviderIpc } from "../protocol/provider-process.js";

/** What a launcher is asked to start: the provider's id, its REF, and its settings (`PROVIDER_ENV`). */
export interface LaunchSpec {
  providerId: string;
  ref: string;
  env: Record<string, string>;
}

export type OutputStream = "stdout" | "stderr";

/** One provider process, as its launcher hands it to the supervisor. */
export interface LaunchedProcess {
  readonly pid: number;
  /** Called once, when the process has ended (`code` null when a signal ended it). */
  onExit(cb: (code: number | null, signal: string | null) => void): void;
  onMessage(cb: (m: ProviderIpc) => void): void;
  /** Each line the process writes. */
  onOutput(cb: (line: string, stream: OutputStream) => void): void;
  /** Ask it to stop (SIGTERM), kill it (SIGKILL) after `timeoutMs`; resolves once it has exited. */
  stop(timeoutMs: number): Promise<void>;
  /** Kill it at once. */
  kill(): void;
}

export interface ProviderLauncher {
  /** Start a provider process. Throws a LatticeError when `ref` names nothing it can run. */
  launch(spec: LaunchSpec): LaunchedProcess;
}
