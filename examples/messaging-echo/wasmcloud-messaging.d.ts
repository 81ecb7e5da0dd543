// How componentize-js presents `wasmcloud:messaging@0.2.0` to JavaScript: a `result` error is
// thrown, an `option` is `undefined` when empty, `list<u8>` is a Uint8Array.
declare module "wasmcloud:messaging/types@0.2.0" {
  export interface BrokerMessage {
    subject: string;
    body: Uint8Array;
    replyTo?: string;
  }
}

declare module "wasmcloud:messaging/consumer@0.2.0" {
  import type { BrokerMessage } from "wasmcloud:messaging/types@0.2.0";
  /** Sends `body` to `subject` and waits up to `timeoutMs` for one reply. */
  export function request(subject: string, body: Uint8Array, timeoutMs: number): BrokerMessage;
  /** Sends a message; `replyTo` asks its receiver to answer there. */
  export function publish(msg: BrokerMessage): void;
}
