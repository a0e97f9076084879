/**
 * The headless browser of the tests: Debian's Chromium, driven by
 * playwright-core (which never downloads a browser).
 *
 * @module
 */

import { type Browser, chromium } from "npm:playwright-core@^1.65.1";
import { requiring } from "./_service.ts";

/** Where Chromium is installed, if it is. */
export const CHROMIUM: string | undefined = [
  "/usr/bin/chromium",
  "/usr/bin/chromium-browser",
].find((path) => {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
});

/** A test that needs Chromium: ignored without it locally, failed in CI. */
export const chromiumTest: ReturnType<typeof requiring> = requiring({
  name: "browser",
  missing: CHROMIUM === undefined ? "Chromium is not installed" : undefined,
  install: "apt-get install chromium",
});

/**
 * Starts a headless Chromium.
 *
 * @returns the browser; close it
 */
export async function launchBrowser(): Promise<Browser> {
  return await chromium.launch({
    executablePath: CHROMIUM!,
    headless: true,
    // Chromium's own outgoing connections (updates, sync, QUIC probes) are
    // refused on this network: these flags keep it from trying.
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
    timeout: 30_000,
  });
}
