import assert from "node:assert/strict";
import { captureLogs, recordText } from "../../tests/_logs.ts";
import { LOG_LIMIT } from "../_util/rate_limit.ts";
import { ANONYMOUS, type Principal } from "../core/principal.ts";
import { MistError } from "../protocol/errors.ts";
import {
  failure,
  metricsToken,
  presentedToken,
  readBody,
  statusOf,
} from "./http_io.ts";

function request(
  url: string,
  headers: Record<string, string> = {},
  body?: string,
): [Request, URL] {
  const init: RequestInit = { headers };
  if (body !== undefined) Object.assign(init, { method: "POST", body });
  return [new Request(url, init), new URL(url)];
}

Deno.test("presentedToken() takes the X-AUTH-TOKEN header first, else the query parameter in any case", () => {
  assert.equal(
    presentedToken(
      ...request("http://h/?x-auth-token=q", { "X-Auth-Token": "h" }),
    ),
    "h",
  );
  assert.equal(presentedToken(...request("http://h/?X-AUTH-TOKEN=q")), "q");
  assert.equal(presentedToken(...request("http://h/")), undefined);
});

Deno.test("metricsToken() takes a bearer token first, else what presentedToken() takes", () => {
  assert.equal(
    metricsToken(
      ...request("http://h/?x-auth-token=q", { authorization: "Bearer  abc " }),
    ),
    "abc",
  );
  assert.equal(
    metricsToken(
      ...request("http://h/?x-auth-token=q", { authorization: "Basic abc" }),
    ),
    "q",
  );
  assert.equal(metricsToken(...request("http://h/")), undefined);
});

Deno.test("statusOf() maps each error to the HTTP status of §8", async (t) => {
  const reader: Principal = { kind: "token", digest: "d", tags: new Set() };
  const cases: [MistError, Principal | undefined, number][] = [
    [new MistError("invalid_token"), undefined, 401],
    [new MistError("forbidden"), undefined, 401],
    [new MistError("forbidden"), ANONYMOUS, 401],
    [new MistError("forbidden"), reader, 403],
    [new MistError("authenticator_unavailable"), reader, 503],
    [new MistError("too_large"), reader, 413],
    [new MistError("missing_tags"), reader, 400],
  ];
  for (const [err, principal, status] of cases) {
    await t.step(`${err.code} for ${principal?.kind ?? "nobody"}`, () => {
      assert.equal(statusOf(err, principal), status);
    });
  }
});

Deno.test("failure() answers a MistError with its reply and status, and rethrows anything else", async () => {
  const response = failure(new MistError("missing_tags"), ANONYMOUS, {
    command: "publish",
    id: 3,
  });
  assert.equal(response.status, 400);
  assert.deepEqual(await response.json(), {
    command: "publish",
    error: "missing tags",
    id: 3,
  });
  assert.throws(
    () => failure(new Error("bug"), undefined, { command: "" }),
    /bug/,
  );
});

Deno.test("readBody() reads a body up to the limit and refuses a longer one", async () => {
  assert.deepEqual(
    new TextDecoder().decode(
      await readBody(request("http://h/", {}, "abc")[0], 3) as Uint8Array,
    ),
    "abc",
  );
  const long = await readBody(request("http://h/", {}, "abcd")[0], 3);
  assert.ok(long instanceof MistError && long.code === "too_large");
  assert.deepEqual(
    await readBody(new Request("http://h/"), 3),
    new Uint8Array(0),
  );
});

Deno.test("readBody() answers a body cut short, logged once at DEBUG however often", async () => {
  LOG_LIMIT.reset();
  const cut = () =>
    new Request("http://h/publish", {
      method: "POST",
      body: new ReadableStream(
        {
          pulls: 0,
          pull(controller) {
            // 14 bytes of the 1,000 announced, then the client hangs up.
            if (this.pulls++ === 0) {
              controller.enqueue(new TextEncoder().encode('{"command":"pu'));
            } else controller.error(new Error("connection reset"));
          },
        } as UnderlyingDefaultSource<Uint8Array> & { pulls: number },
      ),
    });
  const { records, result } = await captureLogs(async () => {
    const answers = [];
    for (let i = 0; i < 50; i++) answers.push(await readBody(cut(), 1000));
    return answers;
  });
  for (const answer of result) {
    assert.ok(answer instanceof MistError);
    assert.equal(answer.message, "invalid message: the body could not be read");
  }
  assert.deepEqual(records.map((r) => r.level), ["debug"]);
  assert.match(recordText(records[0]!), /could not be read after 14 bytes/);
});
