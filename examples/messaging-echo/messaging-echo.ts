/**
 * A messaging actor: the `messaging` provider delivers the messages of the subjects its link
 * subscribes to, and the actor answers each one that asks for a reply, through the same provider.
 * Which subjects, and which NATS, is the links' business, not this code's.
 */
import { publish } from "wasmcloud:messaging/consumer@0.2.0";
import type { BrokerMessage } from "wasmcloud:messaging/types@0.2.0";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export const handler = {
  handleMessage(msg: BrokerMessage): void {
    if (!msg.replyTo) return;
    publish({ subject: msg.replyTo, body: encoder.encode(`echo: ${decoder.decode(msg.body)}`) });
  },
};
