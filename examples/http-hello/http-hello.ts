/**
 * An HTTP actor. The engine componentize-js embeds (StarlingMonkey) turns each call of the exported
 * `wasi:http/incoming-handler` into a service-worker style `fetch` event.
 */
addEventListener("fetch", (event) => {
  const { pathname } = new URL(event.request.url);
  const body = `hello from lattice: ${event.request.method} ${pathname}\n`;
  event.respondWith(new Response(body, { headers: { "content-type": "text/plain; charset=utf-8" } }));
});
