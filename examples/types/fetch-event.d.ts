// The engine's global `fetch` event listener (the WebWorker lib types FetchEvent but not this overload).
declare function addEventListener(type: "fetch", listener: (event: FetchEvent) => void): void;
