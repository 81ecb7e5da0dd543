/**
 * An HTTP counter: each request adds one to the counter named by its path (`/visits` counts in
 * `visits`) and answers the new value. The store is whatever the `wasi:keyvalue` link points at;
 * the increment is one atomic step of it, so every instance on every host counts into one number.
 */
import { open } from "wasi:keyvalue/store@0.2.0-draft";
import { increment } from "wasi:keyvalue/atomics@0.2.0-draft";

addEventListener("fetch", (event) => {
  const key = new URL(event.request.url).pathname.slice(1) || "hits";
  const count = increment(open("default"), key, 1n);
  event.respondWith(new Response(`${count}\n`, { headers: { "content-type": "text/plain; charset=utf-8" } }));
});
