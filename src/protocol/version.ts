/**
 * Protocol versioning.
 *
 * The major version is a token of every subject (`lattice.<L>.ctl.v1.ping`), so hosts speaking
 * different majors never misread each other. Within a major, messages only gain optional fields:
 * receivers ignore fields they do not know, and senders never remove or retype a field.
 */
export const PROTOCOL_MAJOR = 1;
export const PROTOCOL_TOKEN = `v${PROTOCOL_MAJOR}`;

/** The software version of this implementation, carried in host info. */
export const LATTICE_VERSION = "0.1.0";
