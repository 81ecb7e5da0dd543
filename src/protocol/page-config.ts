/** What `lattice ui` tells the pages it serves (at {@link PAGE_CONFIG_PATH}) about the lattice. */

export const PAGE_CONFIG_PATH = "/config.json";

/** NATS credentials a page may be given (a .creds file by its text). */
export interface PageAuth {
  user?: string;
  password?: string;
  token?: string;
  /** A .creds file's text (JWT + nkey seed). */
  creds?: string;
  /** An nkey user seed (`SU…`). */
  nkey?: string;
}

export interface PageConfig {
  /** WebSocket URLs of the lattice's NATS servers. */
  servers: string[];
  lattice: string;
  auth: PageAuth;
}
