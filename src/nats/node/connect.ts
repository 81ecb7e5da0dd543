/** The Node edge: NATS over TCP via @nats-io/transport-node. */
import { connect } from "@nats-io/transport-node";
import { withUnreachableError, type Connector } from "../connection-options.js";

export const connectNode: Connector = withUnreachableError((opts) => connect(opts));
