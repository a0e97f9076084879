/**
 * Test certificates: a throwaway CA and a server certificate it signed for
 * `localhost` and 127.0.0.1, made with openssl in a temporary directory.
 *
 * @module
 */

import assert from "node:assert/strict";

/** A test CA and a server certificate, as PEM texts and as files. */
export interface TestCertificate {
  /** The CA certificate, PEM: what clients trust. */
  ca: string;
  /** The server certificate, PEM. */
  cert: string;
  /** The server's private key, PEM. */
  key: string;
  /** Where each is written. */
  caFile: string;
  certFile: string;
  keyFile: string;
}

const decoder = new TextDecoder();

async function openssl(dir: string, args: string[]): Promise<void> {
  const { success, stderr } = await new Deno.Command("openssl", {
    args,
    cwd: dir,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).output();
  assert.ok(success, `openssl ${args[0]}: ${decoder.decode(stderr)}`);
}

/**
 * Makes a test CA and a server certificate, or `undefined` when openssl is
 * missing (a failure when CI=true, where the tests must not skip).
 */
export async function testCertificate(): Promise<TestCertificate | undefined> {
  const dir = await Deno.makeTempDir({ prefix: "mist-tls-" });
  const ec = [
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
  ];
  try {
    // deno-fmt-ignore
    await openssl(dir, ["req", "-x509", ...ec, "-days", "1", "-subj", "/CN=mist test CA",
      "-keyout", "ca.key", "-out", "ca.pem"]);
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
    await Deno.remove(dir, { recursive: true });
    if (Deno.env.get("CI") === "true") assert.fail("openssl is missing in CI");
    return undefined;
  }
  await Deno.writeTextFile(
    `${dir}/server.ext`,
    "subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n",
  );
  // deno-fmt-ignore
  await openssl(dir, ["req", "-new", ...ec, "-subj", "/CN=localhost",
    "-keyout", "key.pem", "-out", "server.csr"]);
  // deno-fmt-ignore
  await openssl(dir, ["x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
    "-CAcreateserial", "-days", "1", "-extfile", "server.ext", "-out", "cert.pem"]);
  const file = (name: string) => `${dir}/${name}`;
  return {
    ca: await Deno.readTextFile(file("ca.pem")),
    cert: await Deno.readTextFile(file("cert.pem")),
    key: await Deno.readTextFile(file("key.pem")),
    caFile: file("ca.pem"),
    certFile: file("cert.pem"),
    keyFile: file("key.pem"),
  };
}
