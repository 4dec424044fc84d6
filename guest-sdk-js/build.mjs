// Builds a staged JavaScript program into a component with componentize-js. Run by the
// rustyray host (builder/src/js_build.rs), with the stage as the working directory:
//
//   node build.mjs TOOL_DIR OUT.wasm
//
// The stage holds `src/` (the program's files, the SDK in `src/__rustyray__/`, the entry
// module `src/__rustyray_entry__.js`) and `wit/`. This script checks every program file's
// syntax (saying where and why it fails), points `import ... from "rustyray"` at the SDK,
// then runs componentize-js on the entry module.

import { readdir, readFile, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { join, relative, dirname, resolve, sep } from "node:path";
import { pathToFileURL } from "node:url";

const [toolDir, out] = process.argv.slice(2).map((arg) => resolve(arg));
const stage = process.cwd();
const src = join(stage, "src");
const SDK_DIR = "__rustyray__";
const ENTRY = "__rustyray_entry__.js";

const require = createRequire(join(toolDir, "package.json"));
const oxc = require("oxc-parser");

function fail(message) {
  process.stderr.write(`${message}\n`);
  process.exit(2);
}

async function programFiles(dir) {
  const files = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== SDK_DIR) files.push(...(await programFiles(path)));
    } else if (/\.m?js$/.test(entry.name) && entry.name !== ENTRY) {
      files.push(path);
    }
  }
  return files;
}

function position(text, offset) {
  const before = text.slice(0, offset);
  const line = before.split("\n").length;
  const column = offset - before.lastIndexOf("\n");
  return `${line}:${column}`;
}

const QUOTED_SDK = /^(['"])rustyray\1$/;

for (const path of await programFiles(src)) {
  const name = relative(src, path).split(sep).join("/");
  const text = await readFile(path, "utf8");
  const parsed = oxc.parseSync(name, text, { sourceType: "module" });
  const errors = parsed.errors.filter((e) => e.severity !== "Warning");
  if (errors.length) {
    const lines = errors.map((e) => {
      const label = e.labels && e.labels[0];
      const at = label ? `${name}:${position(text, label.start)}` : name;
      const help = e.helpMessage ? ` (${e.helpMessage})` : "";
      return `${at}: SyntaxError: ${e.message}${help}`;
    });
    fail(lines.join("\n"));
  }
  // `import ... from "rustyray"` (and `export ... from "rustyray"`): the SDK, relatively.
  const requests = [
    ...parsed.module.staticImports.map((i) => i.moduleRequest),
    ...parsed.module.staticExports.flatMap((e) => e.entries.map((x) => x.moduleRequest).filter(Boolean)),
  ].filter((r) => r.value === "rustyray");
  if (!requests.length) continue;
  let sdk = relative(dirname(path), join(src, SDK_DIR, "index.js")).split(sep).join("/");
  if (!sdk.startsWith(".")) sdk = `./${sdk}`;
  const unique = [...new Map(requests.map((r) => [r.start, r])).values()].sort((a, b) => b.start - a.start);
  let rewritten = text;
  for (const { start, end } of unique) {
    if (!QUOTED_SDK.test(rewritten.slice(start, end))) {
      fail(`${name}: could not point the import of "rustyray" at the SDK (offset ${start})`);
    }
    rewritten = `${rewritten.slice(0, start)}${JSON.stringify(sdk)}${rewritten.slice(end)}`;
  }
  await writeFile(path, rewritten);
}

const componentizeJs = join(toolDir, "node_modules/@bytecodealliance/componentize-js/src/componentize.js");
const { componentize } = await import(pathToFileURL(componentizeJs).href);
// componentize-js names the program's files (in stacks) relative to the working directory.
process.chdir(src);
let component;
try {
  ({ component } = await componentize({
    sourcePath: join(src, ENTRY),
    witPath: join(stage, "wit"),
    worldName: "driver-module",
    // The runtime's own wasi:http is there for fetch() under --allow-net; it never calls
    // a guest's incoming handler.
    disableFeatures: ["fetch-event"],
  }));
} catch (err) {
  fail(String((err && err.message) || err).replaceAll(`${src}/`, ""));
}
await writeFile(out, component);
