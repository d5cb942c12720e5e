// End-to-end test of `switchboard demo` in headless Chromium, run by
// TestDemoEndToEnd (cmd/switchboard/demo_e2e_test.go), which starts the
// demo and the Microsoft 365 Agents Playground and approves the card
// there. This script is the newcomer at the customer simulator: it writes
// as a WhatsApp customer, waits for the approved reply with its ticks
// (delivered, then read), tries the customer commands, checks labels and
// colour contrast in the light and dark themes, and saves screenshots.
//
// Environment: SIM_URL (the simulator page), PLAYWRIGHT_CORE (the
// playwright-core package directory), CHROMIUM (the browser binary),
// ARTIFACTS (where screenshots go), PLAYGROUND_URL (optional: the
// playground's page, screenshotted too), USER_DATA_DIR (a fresh directory).
// It prints "step: …" lines and, last, "RESULT {json}".
import path from "node:path";
import fs from "node:fs";
import { pathToFileURL } from "node:url";

const env = (k) => {
  const v = process.env[k];
  if (!v) throw new Error(`${k} is not set`);
  return v;
};
const { chromium } = await import(pathToFileURL(path.join(env("PLAYWRIGHT_CORE"), "index.mjs")).href);
const sim = env("SIM_URL");
const artifacts = env("ARTIFACTS");
fs.mkdirSync(artifacts, { recursive: true });
const step = (s) => console.log(`step: ${s}`);
const result = { problems: [] };

const ctx = await chromium.launchPersistentContext(env("USER_DATA_DIR"), {
  executablePath: env("CHROMIUM"),
  headless: true,
  args: [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-quic",
    "--no-first-run", "--disable-component-update", "--disable-sync",
  ],
  viewport: { width: 1400, height: 900 },
  colorScheme: "light",
  acceptDownloads: true,
  timezoneId: "Europe/London",
  locale: "en-GB",
});
ctx.setDefaultTimeout(45_000);
const page = ctx.pages()[0] || (await ctx.newPage());
page.on("pageerror", (e) => result.problems.push(`page error: ${e.message}`));
page.on("console", (m) => { if (m.type() === "error") result.problems.push(`console error: ${m.text()}`); });
page.on("request", (r) => {
  const u = new URL(r.url());
  if (u.origin !== new URL(sim).origin && u.protocol !== "data:") result.problems.push(`request outside the demo: ${r.url()}`);
});

try {
  step("open the simulator");
  await page.goto(sim);
  await page.getByText("Connected to the demo").waitFor();
  const staff = await page.locator("#staff-hint").innerText();
  result.staffHint = staff;

  // The playground's page shows only what happens while it is open.
  let staffPage = null;
  if (process.env.PLAYGROUND_URL) {
    try {
      staffPage = await ctx.newPage();
      await staffPage.goto(process.env.PLAYGROUND_URL, { timeout: 20_000 });
      await staffPage.getByText("Personal Chat", { exact: true }).first().click({ timeout: 10_000 });
      await page.bringToFront();
    } catch (e) {
      console.log(`step: no playground page: ${e.message.split("\n")[0]}`);
      staffPage = null;
    }
  }

  step("write as a customer");
  await page.getByLabel("Your name").fill("Riley Newcomer");
  await page.getByLabel("Your WhatsApp number").fill("+44 7700 900456");
  await page.getByRole("button", { name: "Write as this customer" }).click();
  await page.getByRole("button", { name: /Riley Newcomer/ }).waitFor();
  const question = "Hi, my kitchen tap is dripping. Can you come on Saturday?";
  await page.getByLabel("Your message").fill(question);
  await page.getByRole("button", { name: "Send" }).click();
  const mine = page.locator('.msg.mine[data-status="delivered"]', { hasText: "kitchen tap" });
  await mine.waitFor();
  step("the message reached Switchboard (delivered)");
  console.log("READY_FOR_STAFF");

  step("wait for the approved reply, then its read ticks");
  const reply = page.locator(".msg.theirs").first();
  await reply.waitFor();
  await page.locator('.msg.theirs[data-status="read"]').first().waitFor();
  result.reply = await reply.locator(".body").innerText();
  result.replyWord = await reply.locator(".status-word").innerText();
  result.replyTicks = await reply.locator(".ticks").innerText();
  result.readColour = await reply.locator(".ticks").evaluate((e) => getComputedStyle(e).color);
  await page.screenshot({ path: path.join(artifacts, "demo-reply-light.png") });
  step("reply read; screenshot saved");
  if (staffPage) {
    try {
      await staffPage.getByText("Demo drafter — not AI").first().waitFor({ timeout: 10_000 });
      await staffPage.waitForTimeout(500);
      await staffPage.screenshot({ path: path.join(artifacts, "playground-card.png") });
    } catch (e) {
      console.log(`step: no playground card screenshot: ${e.message.split("\n")[0]}`);
    }
  }

  // read waits until a reply shows the read ticks.
  async function read(reply) {
    const id = await reply.getAttribute("data-id");
    await page.locator(`.msg.theirs[data-id="${id}"][data-status="read"]`).waitFor();
  }

  async function command(text, expect) {
    const before = await page.locator(".msg.theirs").count();
    await page.getByLabel("Your message").fill(text);
    await page.keyboard.press("Enter");
    await page.locator(".msg.theirs").nth(before).waitFor();
    const got = page.locator(".msg.theirs").nth(before);
    if (expect) await got.filter({ hasText: expect }).waitFor();
    return got;
  }

  step("/privacy");
  const privacy = await command("/privacy", "privacy@brightwater.example");
  result.privacy = await privacy.locator(".body").innerText();
  await read(privacy); // taller than the chat: read once it fills half of it

  step("/export");
  const exp = await command("/export");
  const link = exp.locator(".doc a");
  await link.waitFor();
  const [download] = await Promise.all([page.waitForEvent("download"), link.click()]);
  const file = path.join(artifacts, "export.json");
  await download.saveAs(file);
  result.exportName = download.suggestedFilename();
  result.exportHasFormat = fs.readFileSync(file, "utf8").includes("switchboard.export");
  fs.rmSync(file); // the customer's data: not kept as an artifact
  await read(exp);

  step("/stop");
  result.stop = await (await command("/stop", "AI")).locator(".body").innerText();

  step("light theme: labels and contrast");
  result.contrastLight = await contrast(page);

  step("/forget me, then YES");
  result.forgetPrompt = await (await command("/forget me", "YES")).locator(".body").innerText();
  result.forgetDone = await (await command("YES")).locator(".body").innerText();
  await page.locator(".doc .gone").waitFor();
  result.exportGone = await page.locator(".doc .gone").innerText();

  step("dark theme");
  await page.emulateMedia({ colorScheme: "dark" });
  await page.locator(".msg.theirs").first().scrollIntoViewIfNeeded();
  await page.screenshot({ path: path.join(artifacts, "demo-dark.png") });
  result.contrastDark = await contrast(page);
  await page.emulateMedia({ colorScheme: "light" });
  await page.locator("#messages").evaluate((e) => { e.scrollTop = e.scrollHeight; });
  await page.waitForTimeout(300);
  await page.screenshot({ path: path.join(artifacts, "demo-end-light.png") });

  step("accessible names");
  result.unlabelled = await page.evaluate(() =>
    [...document.querySelectorAll("input, textarea, button, a[href]")]
      .filter((e) => {
        if (e.closest("[hidden]")) return false;
        const name = (e.labels && [...e.labels].map((l) => l.textContent).join(" ")) || e.getAttribute("aria-label") || e.textContent;
        return !name || !name.trim();
      })
      .map((e) => e.outerHTML.slice(0, 80)));

  if (staffPage) {
    step("the playground, as staff see it");
    try {
      await staffPage.bringToFront();
      await staffPage.waitForTimeout(1500);
      await staffPage.screenshot({ path: path.join(artifacts, "playground-erased.png") });
    } catch (e) {
      console.log(`step: no playground screenshot: ${e.message.split("\n")[0]}`);
    }
  }
} catch (e) {
  result.problems.push(`failed: ${e.message.split("\n")[0]}`);
  await page.screenshot({ path: path.join(artifacts, "demo-failure.png") }).catch(() => {});
} finally {
  await ctx.close();
}
console.log(`RESULT ${JSON.stringify(result)}`);

// contrast measures WCAG contrast of the page's text against what is
// behind it, for every visible text element; it returns the pairs under
// 4.5:1 (the small texts) with what they are.
async function contrast(p) {
  return p.evaluate(() => {
    const parse = (c) => {
      const m = c.match(/rgba?\(([^)]+)\)/);
      if (!m) return null;
      const [r, g, b, a = 1] = m[1].split(/[ ,/]+/).filter(Boolean).map(Number);
      return { r, g, b, a };
    };
    const lum = ({ r, g, b }) => {
      const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
      return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
    };
    const bgOf = (e) => {
      for (let n = e; n; n = n.parentElement) {
        const c = parse(getComputedStyle(n).backgroundColor);
        if (c && c.a > 0.5) return c;
      }
      return parse(getComputedStyle(document.documentElement).backgroundColor) || { r: 255, g: 255, b: 255, a: 1 };
    };
    const low = [];
    let checked = 0;
    for (const e of document.querySelectorAll("body *")) {
      const own = [...e.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
      if (!own) continue;
      const r = e.getBoundingClientRect();
      if (r.width === 0 || r.height === 0 || getComputedStyle(e).visibility === "hidden") continue;
      if (e.closest("details:not([open]) > :not(summary)")) continue;
      const fg = parse(getComputedStyle(e).color);
      const bg = bgOf(e);
      let opacity = 1;
      for (let n = e; n; n = n.parentElement) opacity *= Number(getComputedStyle(n).opacity);
      const blend = (f, b) => ({ r: f.r * opacity + b.r * (1 - opacity), g: f.g * opacity + b.g * (1 - opacity), b: f.b * opacity + b.b * (1 - opacity) });
      const f = blend(fg, bg);
      const [l1, l2] = [lum(f), lum(bg)].sort((a, b) => b - a);
      const ratio = (l1 + 0.05) / (l2 + 0.05);
      checked++;
      if (ratio < 4.5) low.push(`${ratio.toFixed(2)}:1 ${e.tagName.toLowerCase()}.${e.className} "${e.textContent.trim().slice(0, 30)}"`);
    }
    return { checked, low };
  });
}
