/**
 * One text generator per demo genre. The genres are deliberately far apart (nucleotides,
 * base64, protocol text, structured data, maths, two natural languages, code) so that a
 * sparse autoencoder trained on the demo model has obvious features to find.
 */

import type { SeededRandom } from '../random/seeded-random.js';
import {
  CODE_FUNCTION_NAMES, CODE_IDENTIFIERS, CODE_TYPES, ENGLISH_ADJECTIVES, ENGLISH_ADVERBS,
  ENGLISH_CONNECTIVES, ENGLISH_NAMES, ENGLISH_NOUNS, ENGLISH_PREPOSITIONS, ENGLISH_VERBS_PAST,
  ENGLISH_VERBS_PRESENT, HEBREW_PUNCTUATION, HEBREW_WORDS, HTTP_ACCEPT, HTTP_HOSTS, HTTP_METHODS,
  HTTP_PATH_SEGMENTS, HTTP_USER_AGENTS, JSON_KEYS, JSON_STRING_VALUES,
} from './genre-vocabulary.js';

export const DEMO_GENRES = ['dna', 'base64', 'http', 'json', 'arithmetic', 'english', 'hebrew', 'code'] as const;
export type DemoGenre = (typeof DEMO_GENRES)[number];

/** Document lengths in UTF-16 code units; a generator may overshoot slightly to finish a unit. */
export const DEMO_MIN_CHARS = 50;
export const DEMO_MAX_CHARS = 600;

type GenreGenerator = (rng: SeededRandom, targetChars: number) => string;

/**
 * Appends units until the target is reached, but never lets a unit push a document that is
 * already long enough past the maximum, so structured genres stay well-formed.
 */
function fillTo(targetChars: number, separator: string, makeUnit: () => string): string {
  let text = '';
  while (text.length < targetChars) {
    const unit = makeUnit();
    const next = text.length === 0 ? unit : text + separator + unit;
    if (next.length > DEMO_MAX_CHARS && text.length >= DEMO_MIN_CHARS) break;
    text = next;
  }
  return text;
}

function dna(rng: SeededRandom, targetChars: number): string {
  const gc = rng.uniform(0.3, 0.7);
  const lineWidth = rng.pick([60, 70, 80]);
  const header = rng.chance(0.6)
    ? `>chr${rng.int(1, 23)}:${rng.int(1000, 9_000_000)} ${rng.pick(['H.sapiens', 'M.musculus', 'D.rerio', 'E.coli', 'S.cerevisiae'])}\n`
    : '';
  const bodyLength = Math.max(20, targetChars - header.length);
  let seq = '';
  while (seq.length < bodyLength) {
    if (rng.chance(0.05)) {
      // Tandem repeats are common in real genomes and give the model a copying pattern to learn.
      const motif = Array.from({ length: rng.int(2, 5) }, () => rng.pick(['A', 'C', 'G', 'T'])).join('');
      seq += motif.repeat(rng.int(3, 8));
    } else {
      const strong = rng.chance(gc);
      seq += strong ? rng.pick(['G', 'C']) : rng.pick(['A', 'T']);
    }
  }
  seq = seq.slice(0, bodyLength);
  const lines: string[] = [];
  for (let i = 0; i < seq.length; i += lineWidth) lines.push(seq.slice(i, i + lineWidth));
  return header + lines.join('\n');
}

function base64(rng: SeededRandom, targetChars: number): string {
  const style = rng.int(0, 3);
  const prefix = style === 1 ? `data:${rng.pick(['image/png', 'image/jpeg', 'application/octet-stream', 'font/woff2'])};base64,` : '';
  const wrapper = style === 2 ? ['-----BEGIN CERTIFICATE-----\n', '\n-----END CERTIFICATE-----'] : ['', ''];
  const overhead = prefix.length + wrapper[0].length + wrapper[1].length;
  const payloadChars = Math.max(8, targetChars - overhead);
  const encoded = Buffer.from(rng.bytes(Math.ceil((payloadChars * 3) / 4))).toString('base64');
  const body = style === 2 ? (encoded.match(/.{1,64}/g) ?? []).join('\n') : encoded;
  return prefix + wrapper[0] + body + wrapper[1];
}

function httpPath(rng: SeededRandom): string {
  const segments = Array.from({ length: rng.int(1, 5) }, () =>
    rng.chance(0.25) ? String(rng.int(1, 100_000)) : rng.pick(HTTP_PATH_SEGMENTS));
  let path = '/' + segments.join('/');
  if (rng.chance(0.4)) {
    const params = Array.from({ length: rng.int(1, 4) }, () =>
      `${rng.pick(['page', 'limit', 'sort', 'q', 'lang', 'id', 'filter'])}=${rng.chance(0.5) ? rng.int(1, 500) : rng.pick(JSON_STRING_VALUES)}`);
    path += '?' + params.join('&');
  }
  return path;
}

function http(rng: SeededRandom, targetChars: number): string {
  const method = rng.pick(HTTP_METHODS);
  const lines = [
    `${method} ${httpPath(rng)} ${rng.pick(['HTTP/1.1', 'HTTP/1.1', 'HTTP/2'])}`,
    `Host: ${rng.pick(HTTP_HOSTS)}`,
  ];
  const optional = [
    () => `User-Agent: ${rng.pick(HTTP_USER_AGENTS)}`,
    () => `Accept: ${rng.pick(HTTP_ACCEPT)}`,
    () => `Accept-Encoding: ${rng.pick(['gzip, deflate, br', 'gzip', 'identity'])}`,
    () => `Accept-Language: ${rng.pick(['en-US,en;q=0.9', 'he-IL,he;q=0.8', 'de-DE', 'fr-FR,fr;q=0.7'])}`,
    () => `Authorization: Bearer ${Buffer.from(rng.bytes(rng.int(12, 30))).toString('base64url')}`,
    () => `Cookie: session=${rng.nextUint32().toString(16)}; theme=${rng.pick(['dark', 'light'])}`,
    () => `X-Request-Id: ${rng.nextUint32().toString(16).padStart(8, '0')}-${rng.int(1000, 9999)}`,
    () => `Cache-Control: ${rng.pick(['no-cache', 'max-age=0', 'no-store'])}`,
    () => `Connection: ${rng.pick(['keep-alive', 'close'])}`,
    () => `Referer: https://${rng.pick(HTTP_HOSTS)}${httpPath(rng)}`,
  ];
  const hasBody = method === 'POST' || method === 'PUT' || method === 'PATCH';
  const body = hasBody ? jsonObject(rng, rng.int(20, 120), false) : '';
  if (hasBody) {
    lines.push('Content-Type: application/json', `Content-Length: ${Buffer.byteLength(body)}`);
  }
  rng.shuffle(optional);
  const budget = Math.max(DEMO_MIN_CHARS, targetChars - body.length);
  for (const header of optional) {
    const candidate = header();
    const length = lines.join('\r\n').length + 2 + candidate.length;
    if (length > budget && lines.join('\r\n').length >= DEMO_MIN_CHARS) break;
    lines.push(candidate);
  }
  return lines.join('\r\n') + '\r\n\r\n' + body;
}

function jsonScalar(rng: SeededRandom): unknown {
  switch (rng.int(0, 6)) {
    case 0: return rng.int(0, 10_000);
    case 1: return Math.round(rng.uniform(-100, 100) * 1000) / 1000;
    case 2: return rng.chance(0.5);
    case 3: return null;
    case 4: return `${rng.pick(ENGLISH_NAMES).toLowerCase()}@${rng.pick(HTTP_HOSTS).split(':')[0]}`;
    default: return rng.pick(JSON_STRING_VALUES);
  }
}

function jsonValue(rng: SeededRandom, depth: number): unknown {
  const roll = rng.next();
  if (depth < 2 && roll < 0.15) {
    const child: Record<string, unknown> = {};
    for (let i = rng.int(1, 4); i > 0; i--) child[rng.pick(JSON_KEYS)] = jsonValue(rng, depth + 1);
    return child;
  }
  if (depth < 2 && roll < 0.3) {
    return Array.from({ length: rng.int(1, 5) }, () => jsonScalar(rng));
  }
  return jsonScalar(rng);
}

function jsonObject(rng: SeededRandom, targetChars: number, allowIndent = true): string {
  const indent = allowIndent && rng.chance(0.3) ? 2 : undefined;
  const object: Record<string, unknown> = {};
  let text = '{}';
  for (let guard = 0; guard < 64 && text.length < targetChars; guard++) {
    const key = rng.chance(0.8) ? rng.pick(JSON_KEYS) : `${rng.pick(JSON_KEYS)}_${rng.int(1, 10)}`;
    if (key in object) continue;
    object[key] = jsonValue(rng, 0);
    const candidate = JSON.stringify(object, null, indent);
    if (candidate.length > DEMO_MAX_CHARS && text.length >= DEMO_MIN_CHARS) {
      delete object[key];
      break;
    }
    text = candidate;
  }
  return text;
}

function json(rng: SeededRandom, targetChars: number): string {
  return jsonObject(rng, targetChars);
}

type Expr = { text: string; value: number; precedence: number };

function arithmeticExpr(rng: SeededRandom, depth: number, isTop = false): Expr {
  if (depth === 0 || (!isTop && rng.chance(0.3))) {
    const n = rng.int(0, rng.chance(0.7) ? 100 : 10_000);
    return { text: String(n), value: n, precedence: 3 };
  }
  const op = rng.pick(['+', '-', '*', '+', '-'] as const);
  const left = arithmeticExpr(rng, depth - 1);
  const right = arithmeticExpr(rng, depth - 1);
  const precedence = op === '*' ? 2 : 1;
  // Parenthesise only where precedence demands it, plus now and then for variety.
  const wrap = (e: Expr, isRight: boolean) =>
    e.precedence < precedence || (isRight && e.precedence === precedence && op === '-') || (e.precedence < 3 && rng.chance(0.15))
      ? `(${e.text})` : e.text;
  const value = op === '+' ? left.value + right.value : op === '-' ? left.value - right.value : left.value * right.value;
  return { text: `${wrap(left, false)} ${op} ${wrap(right, true)}`, value, precedence };
}

function arithmetic(rng: SeededRandom, targetChars: number): string {
  const separator = rng.pick(['\n', '\n', '; ']);
  return fillTo(targetChars, separator, () => {
    const expr = arithmeticExpr(rng, rng.int(1, 4), true);
    return `${expr.text} = ${expr.value}`;
  });
}

function capitalise(word: string): string {
  return word.charAt(0).toUpperCase() + word.slice(1);
}

function plural(noun: string): string {
  if (noun === 'child') return 'children';
  if (/[^aeiou]y$/.test(noun)) return noun.slice(0, -1) + 'ies';
  if (/(s|x|ch|sh)$/.test(noun)) return noun + 'es';
  return noun + 's';
}

function englishSentence(rng: SeededRandom): string {
  const noun = () => rng.pick(ENGLISH_NOUNS);
  const adj = () => rng.pick(ENGLISH_ADJECTIVES);
  const templates = [
    () => `The ${adj()} ${noun()} ${rng.pick(ENGLISH_VERBS_PAST)} the ${noun()} ${rng.pick(ENGLISH_PREPOSITIONS)} the ${noun()}.`,
    () => `${rng.pick(ENGLISH_NAMES)} ${rng.pick(ENGLISH_ADVERBS)} ${rng.pick(ENGLISH_VERBS_PAST)} a ${adj()} ${noun()}.`,
    () => `${rng.pick(ENGLISH_CONNECTIVES)} the ${noun()} ${rng.pick(ENGLISH_VERBS_PRESENT)} ${rng.pick(ENGLISH_PREPOSITIONS)} the ${adj()} ${noun()}.`,
    () => `Nobody knew why the ${noun()} was so ${adj()}, but ${rng.pick(ENGLISH_NAMES)} ${rng.pick(ENGLISH_VERBS_PAST)} it anyway.`,
    () => `"Is the ${noun()} ${adj()}?" asked ${rng.pick(ENGLISH_NAMES)}.`,
    () => `${capitalise(adj())} ${plural(noun())} and ${adj()} ${plural(noun())} ${rng.pick(['filled', 'crowded', 'surrounded'])} the ${noun()}.`,
    () => `In ${rng.int(1801, 2030)}, ${rng.int(2, 90)} ${plural(noun())} ${rng.pick(ENGLISH_VERBS_PAST)} the ${noun()}.`,
    () => `It's ${adj()}, and they'll say the ${noun()} ${rng.pick(ENGLISH_VERBS_PRESENT)} ${rng.pick(ENGLISH_ADVERBS)}.`,
  ];
  return rng.pick(templates)();
}

function english(rng: SeededRandom, targetChars: number): string {
  return fillTo(targetChars, rng.chance(0.2) ? '\n\n' : ' ', () => englishSentence(rng));
}

function hebrewSentence(rng: SeededRandom): string {
  const words: string[] = Array.from({ length: rng.int(3, 10) }, () => rng.pick(HEBREW_WORDS));
  if (rng.chance(0.15)) words.splice(rng.int(0, words.length), 0, String(rng.int(1, 2030)));
  return words.join(' ') + rng.pick(HEBREW_PUNCTUATION);
}

function hebrew(rng: SeededRandom, targetChars: number): string {
  return fillTo(targetChars, ' ', () => hebrewSentence(rng));
}

function codeSnippet(rng: SeededRandom): string {
  const fn = rng.pick(CODE_FUNCTION_NAMES);
  const a = rng.pick(CODE_IDENTIFIERS);
  const b = rng.pick(CODE_IDENTIFIERS);
  const n = rng.int(1, 64);
  const snippets = [
    () => `function ${fn}(${a}, ${b}) {\n  const ${a}Len = ${a}.length;\n  for (let i = 0; i < ${a}Len; i++) {\n    ${b} += ${a}[i] * ${n};\n  }\n  return ${b};\n}`,
    () => `def ${fn.replace(/[A-Z]/g, (c) => '_' + c.toLowerCase())}(${a}: ${rng.pick(CODE_TYPES)}, ${b}=${n}):\n    if not ${a}:\n        return None\n    return [x + ${b} for x in ${a}]`,
    () => `const ${a} = await ${fn}({ ${b}: ${n}, retries: ${rng.int(0, 5)} });\nif (!${a}.ok) throw new Error(\`${fn} failed: \${${a}.status}\`);`,
    () => `for (int ${a} = 0; ${a} < ${n}; ++${a}) {\n    ${b}[${a}] = ${b}[${a}] ${rng.pick(['+', '-', '*', '^'])} ${rng.int(1, 255)};\n}`,
    () => `SELECT ${a}, COUNT(*) AS ${b}_count FROM ${rng.pick(HTTP_PATH_SEGMENTS)} WHERE ${b} > ${n} GROUP BY ${a} ORDER BY ${b}_count DESC LIMIT ${rng.int(1, 100)};`,
    () => `class ${capitalise(a)}${capitalise(b)} {\n  private ${a} = ${n};\n  ${fn}(): number {\n    return this.${a} ${rng.pick(['+', '*', '-'])} ${rng.int(1, 9)};\n  }\n}`,
    () => `if ${a} is None:\n    ${a} = {}\n${a}["${b}"] = ${a}.get("${b}", 0) + ${n}`,
    () => `// ${rng.pick(['TODO', 'NOTE', 'FIXME'])}: ${fn} must not block the event loop\nexport const ${a} = (${b}) => ${b}.map((v) => v * ${n});`,
  ];
  return rng.pick(snippets)();
}

function code(rng: SeededRandom, targetChars: number): string {
  return fillTo(targetChars, '\n\n', () => codeSnippet(rng));
}

export const GENRE_GENERATORS: Readonly<Record<DemoGenre, GenreGenerator>> = {
  dna, base64, http, json, arithmetic, english, hebrew, code,
};
