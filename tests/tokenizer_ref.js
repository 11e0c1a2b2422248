// tests/tokenizer_ref.js: the JavaScript side of tests/t_tokenizer_js.sh.
//
//   node tests/tokenizer_ref.js records SST2_DIR OUT
//       OUT gets NUL-terminated records: every sentence of SST2_DIR/{train,dev,test}.tsv
//       (the bytes before the last tab of each line, header skipped, trailing CR removed),
//       then the hard strings below, then seeded random strings.
//   node tests/tokenizer_ref.js encode PACKAGE_DIR IN OUT
//       encodes each record of IN with the npm gpt-3-encoder package in PACKAGE_DIR (the
//       reference), one line of space-separated ids per record, as tests/tool_tokenize does.
//       Records are bytes: they are read as UTF-8 the way Node and TextDecoder do (ill-formed
//       sequences become U+FFFD per maximal subpart), which is the C tokenizer's contract.
//   node tests/tokenizer_ref.js explain IN JS_IDS C_IDS
//       prints the first records whose ids differ.
'use strict';
const fs = require('fs');
const path = require('path');

const NUL = 0;

function splitRecords(buf) {
    const records = [];
    let start = 0;
    for (let i = 0; i < buf.length; i++) {
        if (buf[i] === NUL) {
            records.push(buf.subarray(start, i));
            start = i + 1;
        }
    }
    if (start < buf.length) records.push(buf.subarray(start));
    return records;
}

// The sentence column of a TSV file, as bytes.
function tsvSentences(file) {
    const buf = fs.readFileSync(file);
    const out = [];
    let start = 0, lineNo = 0;
    while (start < buf.length) {
        let end = buf.indexOf(0x0A, start);
        if (end < 0) end = buf.length;
        let line = buf.subarray(start, end);
        start = end + 1;
        if (lineNo++ === 0) continue;   // header
        if (line.length > 0 && line[line.length - 1] === 0x0D) line = line.subarray(0, line.length - 1);
        if (line.length === 0) continue;
        const tab = line.lastIndexOf(0x09);
        if (tab < 0) throw new Error(`${file}:${lineNo}: no tab`);
        out.push(line.subarray(0, tab));
    }
    return out;
}

const b = (...bytes) => Buffer.from(bytes);
const s = (str) => Buffer.from(str, 'utf8');
const cat = (...parts) => Buffer.concat(parts.map((p) => (typeof p === 'string' ? s(p) : p)));

// One long piece of pseudo-random lowercase letters (many different merges in one BPE).
function longRandomWord(n) {
    let state = 42, word = '';
    for (let i = 0; i < n; i++) {
        state = (Math.imul(state, 1103515245) + 12345) >>> 0;
        word += String.fromCharCode(97 + ((state >>> 16) % 26));
    }
    return word;
}

function hardStrings() {
    const h = [];
    const add = (...xs) => xs.forEach((x) => h.push(typeof x === 'string' ? s(x) : x));
    // known encodings, the empty string, the special token as plain text
    add('Hello world', ' great', ' terrible', '', '<|endoftext|>', 'a<|endoftext|>b', ' <|endoftext|> ');
    // scripts: letters
    add('café naïve résumé Zürich Ångström œuvre façade', 'ÀÉÎÕÜ àéîõü ß ẞ ĳ ǅ', 'Ελληνικά γλώσσα ΑΒΓ',
        'Русский язык Ёё', 'العربية لغة', 'עברית שפה', 'हिन्दी भाषा', 'ภาษาไทย', '中文字符 日本語 ひらがな カタカナ',
        '한국어 조선말', 'ქართული', 'Հայերեն', 'አማርኛ', 'ᚠᚢᚦ', '𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𝐛𝐨𝐥𝐝', '𠀀𠀁 𪚥');
    // scripts: digits and numbers
    add('٠١٢٣٤٥٦٧٨٩', '०१२३४५६७८९', '０１２３４５６７８９', 'Ⅻ Ⅳ ⅻ', 'x² y³ ¹⁄₂ ½ ¾', '①②③', '𝟘𝟙𝟚',
        'abc123', '123abc', ' 123 456', 'a1b2c3', '٣ apples', 'H₂O', '1,000.50', '3.14e-10', '-42', '+1 (555) 010-9999',
        '2024-01-01T12:00:00Z', '0x1F', '1e100', '99.9%', '$1,234,567.89', '1 000 000');
    // emoji
    add('😀', 'I ❤️ you', '👨‍👩‍👧‍👦 family', '👍🏽 👍🏿', '🇫🇷🇯🇵', '🏳️‍🌈', 'x😀y', ' 😀 😀', '🧑🏻‍💻', '©®™');
    // combining marks
    add('e\u0301', 'e\u0301\u0302\u0303', 'Z̴̡̢͈̜̗͗͐a̷̺̓l̶̩͝g̸͖̈́o̵̬͊', ' \u0301', 'a\u0300b', 'क्षि', 'ñ vs n\u0303');
    // whitespace runs
    for (let n = 1; n <= 10; n++) {
        const sp = ' '.repeat(n);
        add(sp, sp + 'word', 'word' + sp, 'a' + sp + 'b', sp + '1', sp + '!', 'x' + sp + '\n', sp + '\n' + sp);
    }
    add('\n', '\n\n', 'a\nb', 'a\n\nb', 'a\r\nb', 'a\r\n\r\nb', '\r\n', 'line1\r\nline2\r\n', '\t', 'a\tb', '\t\ta',
        ' \n \t  x', ' \t\n', 'x \n', '\u000b\u000c', 'a \u000b b', ' \t \t ');
    add('a\u00a0b', '\u00a0', ' \u00a0x', '\u00a0\u00a0x', 'a\u3000b', '\u3000x', '\ufeffBOM', 'a\ufeff', 'a\u0085b',
        ' \u0085x', 'a\u2028b', 'a\u2029b', '\u2000\u2001\u200ax', 'a\u200bb', '\u202fx', '\u205fx', '\u1680x',
        'a \u00a0 b', '\u00a0 a', ' \u00a0', '\u0085', '\u180ex', '\u200d');
    // contractions in odd case and places
    add("I'M", "DON'T", "we'Ll", "it'S", "y'all", "'s'", "I'm", "don't", "we'll", "it's", "they're", "we've",
        "he'd", "'re'", "'ll'll", "''s", "'''", "' s", " 's", "x's", "'S", "’s", "rock 'n' roll", "'twas", "'", "a'",
        "'ve'd", "can't've", "'d", "'m'", "O'Neil", "'123", "' ", "'\n", "'Sun", "'TIS", "'REally", "'LLama",
        "'Dog", "'MAN", "'VEry", "'sun", "'tis", "'really", "'llama", "'dog", "'man", "'very", " 'twas", "''twas");
    // punctuation
    add('!!!', '?!?!', '...', '…', '---', '——', '"quoted"', "''", '((()))', '[x]', '{a: 1}', '<tag attr="v">',
        '#hashtag @user', 'a.b.c', 'a,b', ',,,a,,b', ',,,,,,', ', , ,', 'x,', ',x', '.,.,', '«»', '¿¡', '§¶†',
        '~`^', '\\n', '/path/to/file.txt', 'https://example.com/a?b=c&d=e#f', 'user@example.com', '==>', '<=>',
        '* * *', '_under_score_', '__init__', '$$', '%%', 'C++ C#', ':-)', ';)', '<3');
    // pairs that the reference looks up as "a,b" strings (the only 11 pair strings that
    // alias another merge in GPT-2's list), to catch any effect of that quirk
    add('","', 'a ","b', '{"a":1},"b"', '["x"],"y"', 'foo"],"', "','", "'a','b'", ' ,"', '.,"', 'x.",""',
        'he said "no","yes"', '],[', '["a"],["b"]', '),"', '"],"', "',\"", '.",",', 'a ,"b', '},"', '],"');
    // long pieces (the reference is O(n^2) in a piece; these stay small enough for it)
    add('a'.repeat(1000), 'ab'.repeat(500), ' ' + 'x'.repeat(700), '1'.repeat(600), '!'.repeat(600),
        ' '.repeat(300), ' '.repeat(300) + 'z', 'é'.repeat(300), '😀'.repeat(200), '\u0301'.repeat(200),
        'Supercalifragilisticexpialidocious'.repeat(20), 'antidisestablishmentarianism', longRandomWord(2000));
    // a paragraph of ordinary text
    add('The quick brown fox jumps over the lazy dog. It\'s 3:45pm; "Hello," she said — and left.\n\nNew paragraph:\ttabbed.');
    // ill-formed UTF-8 (read as U+FFFD per maximal subpart, as Node does)
    add(b(0x80), b(0xff), b(0xfe), cat('a', b(0x80), 'b'), cat(' ', b(0xff)), cat(' ', b(0xff), 'x'),
        b(0xe2, 0x82), cat(b(0xe2, 0x82), 'a'), cat('x', b(0xe2, 0x82)), b(0xe2), b(0xf0, 0x9f, 0x98),
        cat(b(0xf0, 0x9f, 0x98), ' ok'), b(0xc0, 0xaf), b(0xc1, 0xbf), b(0xe0, 0x80, 0xaf), b(0xed, 0xa0, 0x80),
        b(0xed, 0xbf, 0xbf), b(0xf4, 0x90, 0x80, 0x80), b(0xf5, 0x80), b(0xf8, 0x88, 0x80, 0x80, 0x80),
        cat('caf', b(0xe9)), cat(b(0xc3), 'a'), b(0x80, 0x80, 0x80), cat("'", b(0xff), 's'), cat('1', b(0xff), '2'),
        cat(b(0xef, 0xbf, 0xbd)), cat(b(0xef, 0xbf)), cat(' ', b(0xc2)), cat(b(0xc2), ' '), cat('\n', b(0xa0)),
        cat(b(0xe0, 0xa0)), cat(b(0xf0, 0x90)), cat(b(0xf0, 0x80, 0x80)), cat(b(0xc2, 0xa0), 'x'), cat(b(0xc2), b(0xa0)));
    return h;
}

// Seeded random strings from a mix of every class above (and ill-formed bytes),
// to cover combinations no list would think of.
function randomStrings(count, seed) {
    let state = seed >>> 0;
    const rand = (n) => {
        state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
        return Math.floor((state / 4294967296) * n);
    };
    const atoms = ['a', 'Z', 'é', 'ß', 'Ж', 'ع', '中', '한', '1', '٣', '０', 'Ⅻ', '²', ' ', ' ', ' ', '\n', '\r\n', '\t',
        '\u00a0', '\u3000', '\ufeff', '\u0085', '\u2028', "'", "'s", "'t", "'re", "'ll", "'M", ',', '.', '"', '!',
        '(', ')', '-', '😀', '👍🏽', '\u0301', '\u200d', '$', '#', '_', '\u0000', 'ing', 'the', ' the'];
    const badBytes = [b(0x80), b(0xff), b(0xc3), b(0xe2, 0x82), b(0xed, 0xa0, 0x80), b(0xf0, 0x9f)];
    const out = [];
    for (let i = 0; i < count; i++) {
        const parts = [];
        const len = 1 + rand(16);
        for (let k = 0; k < len; k++) {
            if (rand(40) === 0) parts.push(badBytes[rand(badBytes.length)]);
            else parts.push(s(atoms[rand(atoms.length)]));
        }
        const rec = Buffer.concat(parts);
        // NUL ends a record: replace it by another control character
        for (let k = 0; k < rec.length; k++) if (rec[k] === NUL) rec[k] = 0x01;
        out.push(rec);
    }
    return out;
}

function cmdRecords(sst2Dir, outFile) {
    const recs = [];
    let sentences = 0;
    for (const split of ['train', 'dev', 'test']) {
        const part = tsvSentences(path.join(sst2Dir, split + '.tsv'));
        sentences += part.length;
        recs.push(...part);
    }
    const hard = hardStrings();
    const random = randomStrings(20000, 12345);
    recs.push(...hard, ...random);
    for (const r of recs) if (r.includes(NUL)) throw new Error('a record holds a NUL byte');
    const chunks = [];
    for (const r of recs) chunks.push(r, b(NUL));
    fs.writeFileSync(outFile, Buffer.concat(chunks));
    console.log(`${recs.length} records: ${sentences} SST-2 sentences, ${hard.length} hard strings, ${random.length} random strings`);
}

function cmdEncode(packageDir, inFile, outFile) {
    const encoder = require(path.resolve(packageDir));
    const decoder = new TextDecoder('utf-8', { ignoreBOM: true });   // the WHATWG decoder, for a cross-check (keeping a BOM, as Buffer does)
    const lines = [];
    for (const rec of splitRecords(fs.readFileSync(inFile))) {
        const text = rec.toString('utf8');
        if (text !== decoder.decode(rec)) throw new Error(`Buffer.toString and TextDecoder disagree on ${rec.toString('hex')}`);
        lines.push(encoder.encode(text).join(' '));
    }
    fs.writeFileSync(outFile, lines.join('\n') + (lines.length ? '\n' : ''));
}

function cmdExplain(inFile, jsFile, cFile) {
    const recs = splitRecords(fs.readFileSync(inFile));
    const js = fs.readFileSync(jsFile, 'utf8').split('\n');
    const c = fs.readFileSync(cFile, 'utf8').split('\n');
    let shown = 0, differ = 0;
    for (let i = 0; i < Math.max(recs.length, js.length - 1, c.length - 1); i++) {
        if (js[i] === c[i]) continue;
        differ++;
        if (shown++ < 10) {
            const rec = recs[i] || Buffer.alloc(0);
            console.log(`record ${i + 1}: ${JSON.stringify(rec.toString('utf8'))} (hex ${rec.toString('hex').slice(0, 120)})`);
            console.log(`  js: ${js[i]}`);
            console.log(`  c:  ${c[i]}`);
        }
    }
    console.log(`${differ} of ${recs.length} records differ`);
}

const [cmd, ...args] = process.argv.slice(2);
if (cmd === 'records' && args.length === 2) cmdRecords(...args);
else if (cmd === 'encode' && args.length === 3) cmdEncode(...args);
else if (cmd === 'explain' && args.length === 3) cmdExplain(...args);
else {
    console.error('usage: node tests/tokenizer_ref.js records SST2_DIR OUT | encode PACKAGE_DIR IN OUT | explain IN JS_IDS C_IDS');
    process.exit(2);
}
