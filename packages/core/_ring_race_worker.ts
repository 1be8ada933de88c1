// Helper of ring_test.ts: waits on a ring the main thread closes at nearly the same moment.
/// <reference lib="deno.worker" />
import { ByteRing } from "./ring.ts";

let go: Int32Array;
self.onmessage = (event: MessageEvent) => {
  if (event.data.go) {
    go = new Int32Array(event.data.go);
    self.postMessage("ready");
    return;
  }
  const { trial, buffer, side } = event.data;
  const ring = ByteRing.from(buffer);
  while (Atomics.load(go, 0) < trial) { /* spin until the main thread says go */ }
  const wait = side === "consumer" ? ring.waitReadable() : ring.waitWritable();
  wait.then(() => self.postMessage(trial));
};
