/** The browser edge: NATS over WebSocket (`@nats-io/nats-core`'s wsconnect). */
import { wsconnect } from "@nats-io/nats-core";
import { withUnreachableError, type Connector } from "../nats/connection-options.js";

export const connectWebSocket: Connector = withUnreachableError((opts) => wsconnect(opts));
