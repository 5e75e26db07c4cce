// Drives a running lrs with @xapi/xapi, as a real xAPI client would.
// Usage: node client-test.mjs ENDPOINT KEY SECRET
// Prints "ok <step>" per step; exits 1 on the first failure.
import XAPI from "@xapi/xapi";
import { createHash, randomUUID } from "node:crypto";

const [endpoint, key, secret] = process.argv.slice(2);
if (!endpoint || !key || !secret) {
  console.error("usage: node client-test.mjs ENDPOINT KEY SECRET");
  process.exit(2);
}
const xapi = new XAPI({ endpoint, auth: XAPI.toBasicAuth(key, secret), version: "1.0.3" });

function check(cond, what, detail) {
  if (!cond) {
    throw new Error(`${what}${detail === undefined ? "" : ": " + JSON.stringify(detail)}`);
  }
}

async function step(name, fn) {
  try {
    await fn();
    console.log(`ok ${name}`);
  } catch (err) {
    const res = err.response;
    const body = res ? JSON.stringify(res.data) : "";
    console.error(`FAIL ${name}: ${err.message} ${res ? res.status : ""} ${body}`);
    process.exit(1);
  }
}

const run = randomUUID();
const learner = { objectType: "Agent", name: "Client Learner", mbox: `mailto:learner-${run}@example.com` };
const activityId = `http://example.com/client-test/${run}`;
const statement = (verb, extra = {}) => ({
  actor: learner,
  verb: { id: `http://adlnet.gov/expapi/verbs/${verb}`, display: { "en-US": verb } },
  object: { objectType: "Activity", id: activityId, definition: { name: { "en-US": "Client test" } } },
  ...extra,
});

await step("about", async () => {
  const about = (await xapi.getAbout()).data;
  check(about.version.includes("1.0.3"), "about lists 1.0.3", about);
});

let firstId;
await step("send one statement", async () => {
  const ids = (await xapi.sendStatement({ statement: statement("attempted") })).data;
  check(ids.length === 1, "one id", ids);
  firstId = ids[0];
});

await step("send a batch", async () => {
  const batch = Array.from({ length: 12 }, () => statement("experienced"));
  const ids = (await xapi.sendStatements({ statements: batch })).data;
  check(ids.length === 12, "12 ids", ids);
});

await step("get a statement", async () => {
  const st = (await xapi.getStatement({ statementId: firstId })).data;
  check(st.id === firstId, "same id", st);
  check(st.stored && st.authority && st.version, "stored, authority and version set", st);
});

await step("query with paging", async () => {
  let res = (await xapi.getStatements({ agent: learner, verb: "http://adlnet.gov/expapi/verbs/experienced", limit: 5 })).data;
  const seen = new Set(res.statements.map((s) => s.id));
  let pages = 1;
  while (res.more) {
    res = (await xapi.getMoreStatements({ more: res.more })).data;
    res.statements.forEach((s) => seen.add(s.id));
    pages++;
  }
  check(seen.size === 12, "12 distinct statements across pages", seen.size);
  check(pages === 3, "3 pages of 5", pages);
});

await step("void a statement", async () => {
  await xapi.voidStatement({ actor: learner, statementId: firstId });
  const voided = (await xapi.getVoidedStatement({ voidedStatementId: firstId })).data;
  check(voided.id === firstId, "voided statement fetchable", voided);
  let missing = false;
  try {
    await xapi.getStatement({ statementId: firstId });
  } catch (err) {
    missing = err.response && err.response.status === 404;
  }
  check(missing, "a voided statement is 404 by statementId");
});

await step("state", async () => {
  await xapi.setState({ agent: learner, activityId, stateId: "bookmark", state: { page: 3 } });
  let doc = (await xapi.getState({ agent: learner, activityId, stateId: "bookmark" })).data;
  check(doc.page === 3, "state read back", doc);
  await xapi.createState({ agent: learner, activityId, stateId: "bookmark", state: { score: 7 } });
  doc = (await xapi.getState({ agent: learner, activityId, stateId: "bookmark" })).data;
  check(doc.page === 3 && doc.score === 7, "POST merged the state", doc);
  const ids = (await xapi.getStates({ agent: learner, activityId })).data;
  check(ids.includes("bookmark"), "state listed", ids);
  await xapi.deleteState({ agent: learner, activityId, stateId: "bookmark" });
  const after = (await xapi.getStates({ agent: learner, activityId })).data;
  check(!after.includes("bookmark"), "state deleted", after);
});

await step("activity profile", async () => {
  await xapi.setActivityProfile({ activityId, profileId: "settings", profile: { theme: "dark" }, matchHeader: "If-None-Match", etag: "*" });
  const doc = (await xapi.getActivityProfile({ activityId, profileId: "settings" })).data;
  check(doc.theme === "dark", "profile read back", doc);
  const ids = (await xapi.getActivityProfiles({ activityId })).data;
  check(ids.includes("settings"), "profile listed", ids);
  await xapi.deleteActivityProfile({ activityId, profileId: "settings" });
});

await step("agent profile", async () => {
  await xapi.setAgentProfile({ agent: learner, profileId: "prefs", profile: { lang: "fr" }, matchHeader: "If-None-Match", etag: "*" });
  const doc = (await xapi.getAgentProfile({ agent: learner, profileId: "prefs" })).data;
  check(doc.lang === "fr", "agent profile read back", doc);
  const ids = (await xapi.getAgentProfiles({ agent: learner })).data;
  check(ids.includes("prefs"), "agent profile listed", ids);
  await xapi.deleteAgentProfile({ agent: learner, profileId: "prefs" });
});

await step("activities and agents", async () => {
  const act = (await xapi.getActivity({ activityId })).data;
  check(act.id === activityId, "activity returned", act);
  const person = (await xapi.getAgent({ agent: learner })).data;
  check(person.objectType === "Person", "a Person", person);
});

await step("attachments", async () => {
  const text = `certificate ${run}`;
  const data = new TextEncoder().encode(text);
  const sha2 = createHash("sha256").update(data).digest("hex");
  const st = statement("completed", {
    attachments: [{
      usageType: "http://id.tincanapi.com/attachment/certificate-of-completion",
      display: { "en-US": "Certificate" },
      contentType: "text/plain",
      length: data.byteLength,
      sha2,
    }],
  });
  const ids = (await xapi.sendStatement({ statement: st, attachments: [data.buffer] })).data;
  check(ids.length === 1, "one id", ids);
  const res = (await xapi.getStatement({ statementId: ids[0], attachments: true })).data;
  const parts = Array.isArray(res) ? res : [res];
  const flat = JSON.stringify(parts);
  check(flat.includes(text), "the attachment body comes back", flat.slice(0, 400));
});

console.log("all steps passed");
