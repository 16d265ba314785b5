// mock-sprinto in a container for a Node test suite, with Testcontainers for Node
// (`npm install --save-dev testcontainers@11` in your client's project, this file copied there;
// run with `node --test testcontainers.test.mjs`; docs/container.md).
// One container for the file; the image is the one `make image` builds, MOCK_SPRINTO_IMAGE names
// another. Point your own client at `${origin}/api/external/push`.
import { after, before, beforeEach, test } from "node:test";
import assert from "node:assert/strict";
import { GenericContainer, Wait } from "testcontainers";

const IMAGE = process.env.MOCK_SPRINTO_IMAGE ?? "mock-sprinto:dev";
let container;
let origin;

before(async () => {
  container = await new GenericContainer(IMAGE)
    .withExposedPorts(8080)
    .withWaitStrategy(Wait.forHttp("/_mock/health", 8080))
    .start();
  origin = `http://${container.getHost()}:${container.getMappedPort(8080)}`;
});

after(async () => {
  await container?.stop();
});

beforeEach(async () => {
  await call("POST", "/_mock/reset");
});

async function call(method, path, body, key) {
  const headers = { "Content-Type": "application/json", ...(key ? { "api-key": key } : {}) };
  const response = await fetch(origin + path, { method, headers, body: body && JSON.stringify(body) });
  if (!response.ok) assert.fail(`${method} ${path} answered ${response.status}: ${await response.text()}`);
  return response.json();
}

test("a page pushed and applied is in the dataset", async () => {
  const base = "/api/external/push/v1/integrations/demo";
  const key = "demo-key";
  const { id } = await call("POST", `${base}/sessions`, undefined, key);
  const user = {
    employeeId: "E1", firstName: "Alice", lastName: "Johnson", workEmail: "alice@example.com",
    employmentStartDate: "2022-01-15T09:00:00Z", employmentType: "EMPLOYEE",
  };
  await call("POST", `${base}/sessions/${id}/entities`, { page_hint: 1, entities: { User: [user] } }, key);
  await call("POST", `${base}/sessions/${id}/close`, { status: "apply" }, key);
  await call("POST", "/_mock/clock/advance", { seconds: 2 }); // processing takes 2 s of emulator time
  assert.equal((await call("GET", `${base}/sessions/${id}`, undefined, key)).state, "processed");
  const { records } = await call("GET", "/_mock/integrations/demo/records/User");
  assert.deepEqual(records.map((record) => record.employeeId), ["E1"]);
});
