import assert from "node:assert/strict";
import { type UploadFlowEvent, UploadFlows } from "./upload_flows.ts";

Deno.test("a flow with a send under way is never idle; the time counted ends with the last send", () => {
  const events: UploadFlowEvent[] = [];
  const flows = new UploadFlows((e) => events.push(e), 2000);
  flows.sending("bob", "f", 100);
  flows.sweep(10_000);
  assert.equal(events.length, 1, "a slow send is not idleness");
  flows.sent("bob", "f", 1000, 1100);
  flows.sending("bob", "g", 1100);
  flows.sent("bob", "g", 5, 1200);
  flows.sweep(3100);
  assert.deepEqual(events.slice(1).map((e) => `${e.type} ${e.file}`), ["start g", "stop f"]);
  assert.deepEqual(events[2], {
    type: "stop",
    peer: "bob",
    file: "f",
    bytes: 1000,
    seconds: 1,
    reason: "idle",
  });
  flows.sweep(3200);
  assert.equal(events.at(-1)?.file, "g");
  // A flow that stopped starts again with new sends.
  flows.sending("bob", "f", 5000);
  assert.deepEqual(events.at(-1), { type: "start", peer: "bob", file: "f", bytes: 0, seconds: 0 });
});

Deno.test("the sends of an unknown flow are ignored", () => {
  const events: UploadFlowEvent[] = [];
  const flows = new UploadFlows((e) => events.push(e), 2000);
  flows.sent("nobody", "f", 10, 0);
  flows.drop("nobody");
  flows.close();
  assert.deepEqual(events, []);
});
