// Reference timing for bench_tokenizer: Hugging Face tokenizers (Rust, npm @anush008/tokenizers)
// encoding the same records (the JSONL bench_tokenizer --write-jsonl writes), add_special_tokens
// false, on one thread: mode "records" encodes each record in turn, mode "text" their concatenation
// as one string. Prints JSON lines in the bench_tokenizer format, with the ids' FNV-1a hash so the
// runs can be checked for equal ids.
//   node bench/tokenizer_reference.mjs TOKENIZER_JSON RECORDS_JSONL [REPS] [MODES=records,text]
import { createRequire } from 'node:module';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import url from 'node:url';

const here = path.dirname(url.fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, 'package.json'));
const { Tokenizer } = require('@anush008/tokenizers');
const version = require('@anush008/tokenizers/package.json').version;

const [tokPath, jsonlPath, repsArg, modesArg] = process.argv.slice(2);
const reps = Number(repsArg || 7);
const modes = (modesArg || 'records,text').split(',');
const records = fs.readFileSync(jsonlPath, 'utf8').split('\n').filter((l) => l).map((l) => JSON.parse(l).text);
const text = records.join('');
const bytes = Buffer.byteLength(text, 'utf8');

let t0 = process.hrtime.bigint();
const tok = Tokenizer.fromFile(tokPath);
const loadS = Number(process.hrtime.bigint() - t0) / 1e9;

async function encodeRecords() {
  const ids = [];
  for (const r of records) {
    const e = await tok.encode(r, null, { addSpecialTokens: false });
    for (const id of e.getIds()) ids.push(id);
  }
  return ids;
}
async function encodeText() {
  return (await tok.encode(text, null, { addSpecialTokens: false })).getIds();
}

function fnv1a(ids) {
  let h = 2166136261;
  for (const id of ids) {
    for (let b = 0; b < 4; b++) {
      h ^= (id >>> (8 * b)) & 0xff;
      h = Math.imul(h, 16777619) >>> 0;
    }
  }
  return h;
}

for (const mode of modes) {
  const run = mode === 'text' ? encodeText : encodeRecords;
  let ids = await run();  // warm-up
  const times = [];
  const cpu = [];  // process CPU time (all threads: the encode runs on a libuv worker)
  for (let r = 0; r < reps; r++) {
    t0 = process.hrtime.bigint();
    const c0 = process.cpuUsage();
    ids = await run();
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1e6);
    times.push(Number(process.hrtime.bigint() - t0) / 1e9);
  }
  cpu.sort((a, b) => a - b);
  const cpuMedian = cpu[Math.round(0.5 * (cpu.length - 1))];
  times.sort((a, b) => a - b);
  const q = (f) => times[Math.round(f * (times.length - 1))];
  console.log(JSON.stringify({
    bench: 'tokenizer_encode', impl: `hf-tokenizers (npm @anush008/tokenizers ${version}, node ${process.version})`,
    mode, median_s: +q(0.5).toFixed(4), p10_s: +q(0.1).toFixed(4), p90_s: +q(0.9).toFixed(4),
    mb_per_s: +(bytes / 1e6 / q(0.5)).toFixed(1), median_cpu_s: +cpuMedian.toFixed(4),
    mb_per_cpu_s: +(bytes / 1e6 / cpuMedian).toFixed(1), tokenizer: tokPath, text_bytes: bytes, n_records: records.length,
    n_tokens: ids.length, ids_fnv1a: fnv1a(ids), threads: 1, reps, load_s: +loadS.toFixed(3), cpu: os.cpus()[0].model,
  }));
}
