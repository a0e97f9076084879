import assert from "node:assert/strict";
import {
  ConfigError,
  configWarnings,
  defaultConfig,
  envName,
  loadConfig,
  parseSize,
} from "./config.ts";

/** loadConfig() in an environment of no variables but those given. */
function load(
  args: string[],
  options: { env?: (name: string) => string | undefined } = {},
) {
  return loadConfig(args, { env: options.env ?? (() => undefined) });
}

Deno.test("parseSize() reads bytes and binary and decimal units", () => {
  assert.equal(parseSize(1048576), 1048576);
  assert.equal(parseSize("1048576"), 1048576);
  assert.equal(parseSize("512KiB"), 512 * 1024);
  assert.equal(parseSize("8 MiB"), 8 * 1024 * 1024);
  assert.equal(parseSize("1mb"), 1_000_000);
  assert.equal(parseSize("2GiB"), 2 * 1024 ** 3);
  for (
    const bad of [0, -1, 1.5, "", "MiB", "1.5MiB", "8 parsecs", null, true]
  ) {
    assert.equal(parseSize(bad), undefined, String(bad));
  }
});

Deno.test("loadConfig() gives the defaults when nothing is set", async () => {
  const { config, help, version } = await load([]);
  assert.deepEqual(config, defaultConfig());
  assert.deepEqual(config.listeners, [
    "tcp://127.0.0.1:1445",
    "http://127.0.0.1:8080",
    "ws://127.0.0.1:8888",
  ]);
  assert.equal(config.queueSize, 8 * 1024 * 1024);
  assert.ok(!help && !version);
});

Deno.test("loadConfig() splits listener lists and repeats of the flag", async () => {
  const { config } = await load([
    "--listeners",
    "tcp://a:1, tcp://b:2",
    "--listeners",
    "tcp://c:3",
  ]);
  assert.deepEqual(config.listeners, ["tcp://a:1", "tcp://b:2", "tcp://c:3"]);
});

Deno.test("loadConfig() refuses a stray argument", async () => {
  await assert.rejects(load(["--server", "extra"]), ConfigError);
});

Deno.test("loadConfig() reads `allowed-origins` normalised, and names a bad one", async () => {
  const { config } = await load([
    "--allowed-origins",
    "HTTPS://App.Example.com",
    "--allowed-origins=http://localhost:3000,*",
  ]);
  assert.deepEqual(config.allowedOrigins, [
    "https://app.example.com",
    "http://localhost:3000",
    "*",
  ]);
  await assert.rejects(
    load(["--allowed-origins", "app.example.com"]),
    ConfigError,
    '--allowed-origins: "app.example.com" is not an origin',
  );
});

Deno.test("loadConfig() reads `cluster` and `cluster-name` from flags and the file", async () => {
  const path = await Deno.makeTempFile({ suffix: ".yaml" });
  try {
    await Deno.writeTextFile(
      path,
      "cluster: redis://10.0.0.5:6379/1\ncluster-name: chat\n",
    );
    const fromFile = (await load(["--config", path])).config;
    assert.equal(fromFile.cluster, "redis://10.0.0.5:6379/1");
    assert.equal(fromFile.clusterName, "chat");
    const fromFlag = (await load([
      "--config",
      path,
      "--cluster-name",
      "other",
    ])).config;
    assert.equal(fromFlag.clusterName, "other");
  } finally {
    await Deno.remove(path);
  }
  await assert.rejects(load(["--cluster", ""]), ConfigError);
});

Deno.test("configWarnings() warns when a cluster has an authenticator of its own on each node", () => {
  const config = defaultConfig();
  assert.deepEqual(configWarnings(config), []);
  config.cluster = "redis://127.0.0.1:6379";
  assert.deepEqual(configWarnings(config), []);
  for (const authenticator of ["memory://", "scribble:///?db=/tmp/x"]) {
    config.authenticator = authenticator;
    const [warning, ...rest] = configWarnings(config);
    assert.match(warning!, /shares \(postgres:\/\/\)/);
    assert.deepEqual(rest, []);
  }
  config.authenticator = "postgres://mist@db:5432/mist";
  assert.deepEqual(configWarnings(config), []);
});

/** An environment of these variables only. */
function env(
  vars: Record<string, string>,
): (name: string) => string | undefined {
  return (name) => vars[name];
}

async function withFile<T>(
  text: string,
  use: (path: string) => Promise<T>,
): Promise<T> {
  const path = await Deno.makeTempFile();
  try {
    await Deno.writeTextFile(path, text);
    return await use(path);
  } finally {
    await Deno.remove(path);
  }
}

Deno.test("envName() upper-cases a key and turns - into _", () => {
  assert.equal(envName("log-level"), "MIST_LOG_LEVEL");
  assert.equal(envName("max-message-size"), "MIST_MAX_MESSAGE_SIZE");
  assert.equal(envName("token"), "MIST_TOKEN");
});

Deno.test("loadConfig() takes every key from its MIST_ variable", async () => {
  const { config } = await load([], {
    env: env({
      MIST_SERVER: "true",
      MIST_LISTENERS: "tcp://a:1, ws://b:2",
      MIST_LOG_LEVEL: "debug",
      MIST_LOG_FORMAT: "json",
      MIST_MAX_MESSAGE_SIZE: "2MiB",
      MIST_MAX_TAGS: "7",
      MIST_QUEUE_SIZE: "16MiB",
      MIST_SHUTDOWN_TIMEOUT: "1.5",
      MIST_AUTHENTICATOR: "memory://",
      MIST_TOKEN: "admin-token",
      MIST_METRICS_TOKEN: "metrics-token",
      MIST_NODE_NAME: "node-1",
      MIST_CLUSTER_NAME: "chat",
    }),
  });
  assert.deepEqual(config, {
    ...defaultConfig(),
    server: true,
    listeners: ["tcp://a:1", "ws://b:2"],
    logLevel: "DEBUG",
    logFormat: "json",
    maxMessageSize: 2 * 1024 * 1024,
    maxTags: 7,
    queueSize: 16 * 1024 * 1024,
    shutdownTimeout: 1.5,
    authenticator: "memory://",
    token: "admin-token",
    metricsToken: "metrics-token",
    nodeName: "node-1",
    clusterName: "chat",
  });
});

Deno.test("loadConfig() ranks flags over the environment over the file over the defaults", async () => {
  await withFile(
    "max-tags: 3\nmax-subscriptions: 30\nnode-name: file\n",
    async (path) => {
      const { config } = await load(["--max-tags", "1"], {
        env: env({
          MIST_CONFIG: path,
          MIST_MAX_TAGS: "2",
          MIST_MAX_SUBSCRIPTIONS: "20",
        }),
      });
      assert.equal(config.maxTags, 1); // flag
      assert.equal(config.maxSubscriptions, 20); // environment
      assert.equal(config.nodeName, "file"); // file
      assert.equal(config.maxTagLength, defaultConfig().maxTagLength);
    },
  );
});

Deno.test("loadConfig() names the variable a bad value came from, and treats an empty one as unset", async () => {
  for (
    const [vars, message] of [
      [
        { MIST_MAX_TAGS: "-1" },
        /^Invalid value for MIST_MAX_TAGS: expected a positive integer, got "-1"$/,
      ],
      [
        { MIST_SERVER: "maybe" },
        /^Invalid value for MIST_SERVER: expected true or false/,
      ],
      [
        { MIST_LOG_FORMAT: "xml" },
        /^Invalid value for MIST_LOG_FORMAT: expected text or json, got "xml"$/,
      ],
      [
        { MIST_CONFIG: "/nonexistent/mist.yaml" },
        /^Cannot read config file \/nonexistent\/mist.yaml: no such file$/,
      ],
    ] as const
  ) {
    await assert.rejects(load([], { env: env(vars) }), {
      name: "ConfigError",
      message,
    });
  }
  const { config } = await load([], { env: env({ MIST_MAX_TAGS: "" }) });
  assert.equal(config.maxTags, defaultConfig().maxTags);
});

Deno.test("loadConfig() gives a negative number to the flag's own check", async () => {
  for (const flag of ["--max-tags", "--max-subscriptions"]) {
    await assert.rejects(load([flag, "-1"]), {
      message:
        `Invalid value for ${flag}: expected a positive integer, got "-1"`,
    });
  }
  await assert.rejects(load(["--shutdown-timeout", "-5"]), {
    message:
      /^Invalid value for --shutdown-timeout: expected a number of seconds/,
  });
});

Deno.test("loadConfig() reads a token file without its line ending, and never shows its content", async () => {
  await withFile("file-token-1234\r\n", async (path) => {
    const { config } = await load([
      "--authenticator",
      "memory://",
      "--token-file",
      path,
      "--metrics-token-file",
      path,
    ]);
    assert.equal(config.token, "file-token-1234");
    assert.equal(config.metricsToken, "file-token-1234");
  });
  for (
    const [text, message] of [["", /is empty$/], ["\n\n", /is empty$/], [
      "two\nlines\n",
      /must hold the token on one line$/,
    ]] as const
  ) {
    await withFile(text, async (path) => {
      await assert.rejects(
        load([], { env: env({ MIST_TOKEN_FILE: path }) }),
        (err) => {
          assert.ok(err instanceof ConfigError);
          assert.match(err.message, message);
          assert.ok(
            err.message.startsWith(`The file of MIST_TOKEN_FILE ${path}`),
          );
          assert.doesNotMatch(err.message, /two|lines/);
          return true;
        },
      );
    });
  }
});

Deno.test("loadConfig() lets the token or its file set with more precedence win, and refuses both at once", async () => {
  await withFile("from-file\n", async (path) => {
    const flagWins = await load(["--token", "from-flag"], {
      env: env({ MIST_TOKEN_FILE: path }),
    });
    assert.equal(flagWins.config.token, "from-flag");
    assert.equal(flagWins.config.tokenFile, undefined);
    const fileWins = await load(["--token-file", path], {
      env: env({ MIST_TOKEN: "from-env" }),
    });
    assert.equal(fileWins.config.token, "from-file");
    await assert.rejects(
      load(["--metrics-token", "m", "--metrics-token-file", path]),
      {
        message:
          "Set metrics-token or metrics-token-file, not both (--metrics-token and --metrics-token-file)",
      },
    );
  });
});

Deno.test("loadConfig() keeps the line, column and code frame of a YAML error", async () => {
  await withFile("listeners: [tcp://\nmax-tags: 3\n", async (path) => {
    await assert.rejects(load(["--config", path]), {
      message:
        `Config file ${path} is not valid YAML: Flow sequence in block collection must be sufficiently indented and end with a ] at line 2, column 1:\n\nlisteners: [tcp://\nmax-tags: 3\n^`,
    });
  });
});

Deno.test("loadConfig() says every way to give the token an authenticator needs", async () => {
  await assert.rejects(load(["--authenticator", "memory://"]), {
    message:
      "An authenticator needs the admin token: set token (--token), MIST_TOKEN or token-file",
  });
});

Deno.test("configWarnings() warns that a metrics token without an authenticator does nothing", () => {
  const config = { ...defaultConfig(), metricsToken: "m-secret-42" };
  const [warning, ...rest] = configWarnings(config);
  assert.match(
    warning!,
    /^A metrics token without an authenticator has no effect/,
  );
  assert.doesNotMatch(warning!, /m-secret-42/);
  assert.deepEqual(rest, []);
  config.authenticator = "memory://";
  assert.deepEqual(configWarnings(config), []);
});
