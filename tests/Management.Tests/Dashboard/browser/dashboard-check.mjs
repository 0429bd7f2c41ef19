// Drives headless Chromium (Debian's /usr/bin/chromium) through the dashboard of a running 3-node cluster, as
// an operator would. Run by DashboardBrowserTests.cs, which starts the cluster and passes:
//   DASH_URL (a node's http://host:port/ui/), DASH_TOKEN, PROXY (a node's proxy host:port), TARGET (a cacheable
//   origin URL), NODES (expected node count), SHOTS (directory for screenshots), CHROMIUM (executable).
// Prints "ok: <step>" per step; exits 1 with "FAIL: <reason>" (and SHOTS/failure.png) on the first failure.
import { chromium } from "playwright-core";
import http from "node:http";
import fs from "node:fs";
import path from "node:path";

const env = (k) => { const v = process.env[k]; if (!v) { console.log(`FAIL: ${k} not set`); process.exit(1); } return v; };
const DASH_URL = env("DASH_URL"), TOKEN = env("DASH_TOKEN"), PROXY = env("PROXY"), TARGET = env("TARGET");
const NODES = Number(env("NODES")), SHOTS = env("SHOTS"), CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
fs.mkdirSync(SHOTS, { recursive: true });
const shot = (page, name) => page.screenshot({ path: path.join(SHOTS, name), fullPage: true });

/** A GET through the proxy (absolute URL in the request line, as a browser configured with a proxy sends it). */
function viaProxy(url) {
  const [host, port] = PROXY.split(":");
  return new Promise((resolve, reject) => {
    const req = http.request({ host, port: Number(port), path: url, headers: { Host: new URL(url).host }, timeout: 10000 }, (res) => {
      res.resume();
      res.on("end", () => resolve({ status: res.statusCode, cacheStatus: String(res.headers["cache-status"] || "") }));
    });
    req.on("timeout", () => req.destroy(new Error("proxy request timed out")));
    req.on("error", reject);
    req.end();
  });
}

const browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox", "--disable-dev-shm-usage"] });
const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
const consoleErrors = [];
page.on("pageerror", (e) => consoleErrors.push(String(e)));
const step = (s) => console.log("ok: " + s);
try {
  // 1. No token yet: the login form; a wrong token is refused and nothing of the dashboard shows.
  await page.goto(DASH_URL);
  await page.locator("#login-form").waitFor({ state: "visible", timeout: 15000 });
  await page.fill("#token", "wrong-token-0000000000");
  await page.click("#login-form button[type=submit]");
  await page.waitForFunction(() => document.getElementById("login-error").textContent.includes("wrong"), null, { timeout: 15000 });
  if (await page.locator("#dashboard").isVisible()) throw new Error("dashboard visible with a wrong token");
  await shot(page, "login-refused.png");
  step("a wrong token is refused: " + await page.textContent("#login-error"));

  // 2. The right token: every node in the table.
  await page.fill("#token", TOKEN);
  await page.click("#login-form button[type=submit]");
  await page.locator("#dashboard").waitFor({ state: "visible", timeout: 15000 });
  await page.waitForFunction((n) => document.querySelectorAll("#nodes tbody tr").length === n, NODES, { timeout: 30000 });
  const states = await page.$$eval("#nodes tbody tr td:nth-child(2)", (tds) => tds.map((td) => td.textContent));
  if (states.some((s) => s !== "Active")) throw new Error("node states: " + states.join(", "));
  step(`${NODES} nodes shown, all Active`);

  // 3. Traffic flows: the requests chart's data (and its drawing) moves.
  const before = await page.locator("#chart-requests canvas").screenshot();
  const deadline = Date.now() + 30000;
  let moved = false;
  for (let i = 0; Date.now() < deadline && !moved; i++) {
    await Promise.all(Array.from({ length: 10 }, () => viaProxy(TARGET)));
    moved = await page.evaluate(() => (window.dashboardState.data.hit || []).some((v) => v > 0));
  }
  if (!moved) throw new Error("no hit rate reached the requests chart within 30 s of traffic");
  await page.waitForTimeout(1500);
  const after = await page.locator("#chart-requests canvas").screenshot();
  if (before.equals(after)) throw new Error("the requests chart did not change while traffic flowed");
  const rate = await page.evaluate(() => Math.max(...window.dashboardState.data.hit.filter((v) => v != null)));
  step(`the requests chart moved with traffic (peak ${rate.toFixed(1)} hits/s)`);
  await page.waitForFunction((url) => document.getElementById("top-urls").textContent.includes(url), TARGET, { timeout: 20000 });
  step("the URL is in the hot-URL table");
  await shot(page, "dashboard.png");

  // 4. Inspect, then purge from the page: the next request is a miss.
  const first = await viaProxy(TARGET);
  if (!first.cacheStatus.includes("hit")) throw new Error("expected a hit before the purge, got: " + first.cacheStatus);
  await page.fill("#inspect-url", TARGET);
  await page.click("#inspect-form button[type=submit]");
  await page.waitForFunction(() => document.getElementById("inspect-result").textContent.includes("variant"), null, { timeout: 15000 });
  step("inspect: " + (await page.textContent("#inspect-result div")));
  await page.selectOption("#purge-kind", "url");
  await page.fill("#purge-value", TARGET);
  await page.click("#purge-form button[type=submit]");
  await page.locator("#confirm").waitFor({ state: "visible" });
  await shot(page, "purge-confirm.png");
  await page.click("#confirm-ok");
  await page.waitForFunction(() => document.getElementById("purge-result").textContent.startsWith("purged"), null, { timeout: 30000 });
  const purged = await page.textContent("#purge-result");
  if (!/^purged [1-9]/.test(purged)) throw new Error("purge result: " + purged);
  const next = await viaProxy(TARGET);
  if (next.cacheStatus.includes("hit") || !next.cacheStatus.includes("fwd=")) throw new Error("after the purge the next request was not a miss: " + next.cacheStatus);
  step(`purge from the page (${purged}); next request: ${next.cacheStatus}`);
  await shot(page, "purged.png");

  if (consoleErrors.length) throw new Error("page errors: " + consoleErrors.join("; "));
  console.log("ALL OK");
} catch (e) {
  console.log("FAIL: " + (e && e.message ? e.message.split("\n")[0] : e));
  await shot(page, "failure.png").catch(() => {});
  process.exitCode = 1;
} finally {
  await browser.close();
}
