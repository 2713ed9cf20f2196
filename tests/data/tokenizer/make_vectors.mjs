// Generates hf_reference_vectors.jsonl: ids, token strings and offsets from Hugging Face
// tokenizers (npm @anush008/tokenizers, installed by `npm ci` in bench/) for the fixture
// tokenizers and for in-memory variants of them (variants.json). Run from the repository root:
//   (cd bench && npm ci) && node tests/data/tokenizer/make_vectors.mjs
// The output is committed; tests compare logitscope against it and never regenerate it.
import { createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';

const require = createRequire(path.resolve('bench/package.json'));
const { Tokenizer } = require('@anush008/tokenizers');
const fixtures = process.env.LSC_FIXTURES || path.resolve('../shared/fixtures');
const here = 'tests/data/tokenizer';
const dirs = { 'qwen2.5': 'tokenizers/qwen2.5', qwen3: 'tokenizers/qwen3', r1: 'tokenizers/deepseek-r1-distill-qwen' };
const variants = JSON.parse(fs.readFileSync(path.join(here, 'variants.json'), 'utf8'));

function load(name, variant) {
  const j = JSON.parse(fs.readFileSync(path.join(fixtures, dirs[name], 'tokenizer.json'), 'utf8'));
  if (variant) {
    const v = variants[variant];
    if (v.added_tokens) j.added_tokens.push(...v.added_tokens);
    if (v.regex) j.pre_tokenizer.pretokenizers[0].pattern.Regex = v.regex;
    if (v.ignore_merges !== undefined) j.model.ignore_merges = v.ignore_merges;
  }
  return Tokenizer.fromString(JSON.stringify(j));
}

// Deterministic pseudo-random strings from fragments that stress the regex, NFC and BPE.
function mulberry32(a) {
  return () => {
    a |= 0; a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const fragments = ['a', 'Z', 'é', 'e\u0301', 'ſ', "'", "'s", "'LL", "'Re", ' ', '  ', '\t', '\n', '\r\n', '\r',
  '\u00a0', '\u3000', '\u2028', '\u0085', '\u001f', '1', '42', '٣', '½', 'Ⅻ', '中', '文', '。', '😀', '👩\u200d👧',
  '🇯🇵', '\u200b', '!', '?', '.', '$', '\\frac', '{', '}', '<|im_start|>', '<|im_end|>', '<think>', '</think>',
  '<|endoftext|>', '<｜User｜>', '<|', '|>', 'ﬁ', 'Å', '가', '\u1100\u1161', '\u11a8', 'x', 'yz', 'Wait',
  'hmm', ' Let', ' '.repeat(70), 'ab'.repeat(40), '\u0323\u0301', '–', '…', '\u0000'];
function randomStrings(seed, n, extra = []) {
  const rnd = mulberry32(seed);
  const pool = fragments.concat(extra);
  const out = [];
  for (let i = 0; i < n; i++) {
    let s = '';
    const k = 1 + Math.floor(rnd() * 12);
    for (let j = 0; j < k; j++) s += pool[Math.floor(rnd() * pool.length)];
    out.push(s);
  }
  return out;
}

const edge = fs.readFileSync(path.join(fixtures, 'tokenizer-vectors/hf-tokenizers-0.22.2/edge_cases.jsonl'), 'utf8')
  .split('\n').filter((l) => l).map((l) => JSON.parse(l).text);
const edgeTexts = [...new Set(edge)];
const handTexts = JSON.parse(fs.readFileSync(path.join(here, 'texts.json'), 'utf8'));

const jobs = [];
for (const name of ['qwen2.5', 'qwen3', 'r1']) {
  for (const text of edgeTexts.concat(handTexts.common)) jobs.push({ name, variant: null, text });
}
for (const text of randomStrings(1, 150)) jobs.push({ name: 'qwen2.5', variant: null, text });
for (const text of randomStrings(2, 60)) jobs.push({ name: 'r1', variant: null, text });
for (const [variant, v] of Object.entries(variants)) {
  const extra = (v.added_tokens || []).map((a) => a.content);
  for (const text of handTexts[variant].concat(randomStrings(3, 60, extra))) {
    jobs.push({ name: v.base, variant, text });
  }
}

const cache = new Map();
const lines = [];
for (const job of jobs) {
  const key = job.name + '/' + job.variant;
  if (!cache.has(key)) cache.set(key, load(job.name, job.variant));
  const t = cache.get(key);
  for (const add of [false, true]) {
    const e = await t.encode(job.text, null, { addSpecialTokens: add });
    lines.push(JSON.stringify({ tokenizer: job.name, variant: job.variant, add_special_tokens: add, text: job.text,
      ids: e.getIds(), tokens: e.getTokens(), offsets: e.getOffsets(),
      decoded: await t.decode(e.getIds(), false) }));
  }
}
fs.writeFileSync(path.join(here, 'hf_reference_vectors.jsonl'), lines.join('\n') + '\n');
console.log(`wrote ${lines.length} records`);
