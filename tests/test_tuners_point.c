/*
 * tests/test_tuners_point.c: tuners/point.c.
 *   - good points: every default filled in, method-dependent defaults
 *     (template, prompt length, PEZ lr by optimizer), custom tasks;
 *   - every kind of bad point gives one error naming its key;
 *   - method soft: PEZ's settings under "soft", its canonical JSON, its
 *     refusals; the empty manual prompt is a point;
 *   - the canonical JSON: an exact expected text, identical for equivalent
 *     inputs (key order, whitespace, 1 vs 1.0, data vs data_dir + split), a
 *     fixed point of parsing, different for different points;
 *   - objective weights; the result record's fields, history growth, valid
 *     JSON for odd prompt bytes, determinism; an ok and a failed record
 *     have exactly the keys of util/record.h's schema, in its order.
 * Files (a tiny checkpoint written with gpt2_save, splits, a word list) go
 * into a scratch directory ($TMP or /tmp).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE // mkdtemp, nftw
#endif
#include <errno.h>
#include <ftw.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "tuners/tuners.h"
#include "util/record.h"

#define TEST_NAME "test_tuners_point"
#include "tests/testlib.h"

// ----------------------------------------------------------------------------
// scratch files

/* root/model (a tiny checkpoint), root/data/16-1/{train,dev}.tsv,
 * root/data/test.tsv, root/words. */
static void make_files(void) {
    make_root();
    char path[4200];
    GPT2Config c = {.n_layer = 1, .n_head = 1, .n_embd = 8, .n_positions = 16, .vocab_size = 64,
                    .layer_norm_epsilon = 1e-5f};
    size_t n = gpt2_num_params(&c);
    float *params = calloc(n, sizeof(float));
    GPT2Block block;
    GPT2Weights w;
    gpt2_point_weights(&w, &block, params, &c);
    Err err;
    path_in(path, sizeof path, root, "model");
    if (!params || gpt2_save(&c, &w, path, &err)) die("tiny model: %s", err.msg);
    free(params);
    scratch_dir(path, sizeof path, "data");
    scratch_dir(path, sizeof path, "data/16-1");
    const char *split = "sentence\tlabel\ngood\t1\nbad\t0\n";
    const char *names[3] = {"data/16-1/train.tsv", "data/16-1/dev.tsv", "data/test.tsv"};
    for (int i = 0; i < 3; i++) write_text(root, names[i], split);
    write_text(root, "words", "good\nbad\n");
}

// ----------------------------------------------------------------------------
// points

/* A point's JSON text from a template where every '@' is the scratch root. */
static char *point_text(const char *fmt) {
    size_t n = 1, rl = strlen(root);
    for (const char *p = fmt; *p; p++) n += *p == '@' ? rl : 1;
    char *out = malloc(n), *o = out;
    if (!out) die("out of memory");
    for (const char *p = fmt; *p; p++) {
        if (*p == '@') { memcpy(o, root, rl); o += rl; }
        else *o++ = *p;
    }
    *o = '\0';
    return out;
}

static int parse(TunePoint *p, const char *fmt, Err *err) {
    char *text = point_text(fmt);
    int rc = point_parse(p, text, err);
    free(text);
    return rc;
}

#define BASE "\"model\":\"@/model\",\"data_dir\":\"@/data\",\"split\":\"16-1\",\"dictionary\":\"@/words\""

static void test_defaults(void) {
    TunePoint p;
    Err err;
    char want[24576];
    int rc = parse(&p, "{\"method\":\"pez\",\"task\":\"sst-2\"," BASE "}", &err);
    CHECK(rc == 0, "minimal PEZ point: %s", err.msg);
    if (rc == 0) {
        CHECK(p.method == METHOD_PEZ && strcmp(p.task, "sst-2") == 0 && p.n_classes == 2, "method/task");
        CHECK(strcmp(p.verbalizers[0], " terrible") == 0 && strcmp(p.verbalizers[1], " great") == 0, "verbalizers");
        CHECK(strcmp(p.template_text, "[P]{sentence} It was") == 0, "PEZ template [%s]", p.template_text);
        CHECK(p.prompt_length == 10 && p.lambda == 0 && p.objective == OBJECTIVE_ADDITIVE && p.seed == 0, "scalars");
        CHECK(p.max_tokens == 128 && p.max_test == 0, "max_tokens %d max_test %d", p.max_tokens, p.max_test);
        CHECK(p.activation_mb == 200, "activation_mb %g", p.activation_mb);
        snprintf(want, sizeof want, "%s/data/16-1/train.tsv", root);
        CHECK(strcmp(p.train_path, want) == 0, "train path [%s]", p.train_path);
        snprintf(want, sizeof want, "%s/data/16-1/dev.tsv", root);
        CHECK(strcmp(p.dev_path, want) == 0, "dev path [%s]", p.dev_path);
        snprintf(want, sizeof want, "%s/data/test.tsv", root);
        CHECK(strcmp(p.test_path, want) == 0, "test path [%s]", p.test_path);
        CHECK(p.scorer_dir[0] == '\0' && p.policy_dir[0] == '\0', "scorer/policy default to the task model");
        const PezSettings *s = &p.pez;
        CHECK(s->steps == 1000 && s->batch == 16 && s->eval_every == 10 && s->optimizer == PEZ_ADAFACTOR &&
              s->lr == 0.3 && s->weight_decay == 0.1 && s->clip == 1.0 && !s->init_random && !s->reset_quirk &&
              s->ppl_grad == PEZ_PPL_GRAD_FULL && p.prompt_vocab == PROMPT_VOCAB_ALL && p.precision == GPT2_F32,
              "PEZ defaults");
        const RlSettings *r = &p.rl;
        CHECK(r->steps == 1000 && r->prompts_per_step == 16 && r->top_k == 256 && r->eval_every == 10 &&
              r->hidden == 2048 && r->lr == 5e-5 && r->clip == 5.0 && r->polyak == 0.001 && r->reward_scale == 5 &&
              r->reward == RL_REWARD_OBJECTIVE,
              "RLPrompt defaults");
        // the whole canonical text, spelled out: the format a sweep hashes
        snprintf(want, sizeof want,
                 "{\"data\":{\"dev\":\"%s/data/16-1/dev.tsv\",\"test\":\"%s/data/test.tsv\",\"train\":\"%s/data/16-1/train.tsv\"},"
                 "\"dictionary\":\"%s/words\",\"lambda\":0,\"max_test\":0,\"max_tokens\":128,\"method\":\"pez\","
                 "\"model\":\"%s/model\",\"objective\":\"additive\",\"pez\":{\"batch\":16,\"clip\":1,\"eval_every\":10,"
                 "\"init\":\"classes\",\"lr\":0.3,\"optimizer\":\"adafactor\",\"ppl_grad\":\"full\",\"reset_quirk\":false,"
                 "\"steps\":1000,\"weight_decay\":0.1},\"precision\":\"f32\",\"prompt_length\":10,\"prompt_vocab\":\"all\",\"scorer_model\":\"\","
                 "\"seed\":0,\"task\":\"sst-2\","
                 "\"template\":\"[P]{sentence} It was\",\"verbalizers\":[\" terrible\",\" great\"]}",
                 root, root, root, root, root);
        CHECK(p.canonical_json && strcmp(p.canonical_json, want) == 0, "canonical JSON:\n  got  %s\n  want %s",
              p.canonical_json, want);
        point_free(&p);
        CHECK(p.canonical_json == NULL, "point_free left the JSON");
    }
    // AdamW changes lr's default; an explicit lr stays
    rc = parse(&p, "{\"method\":\"pez\",\"task\":\"sst-2\"," BASE ",\"pez\":{\"optimizer\":\"adamw\"}}", &err);
    CHECK(rc == 0 && p.pez.optimizer == PEZ_ADAMW && p.pez.lr == 0.1, "AdamW lr default: %s", err.msg);
    point_free(&p);
    rc = parse(&p, "{\"method\":\"pez\",\"task\":\"sst-2\"," BASE ",\"pez\":{\"optimizer\":\"adamw\",\"lr\":0.02,"
                   "\"init\":\"random\",\"reset_quirk\":true,\"steps\":3,\"batch\":2,\"eval_every\":1,\"clip\":0}}", &err);
    CHECK(rc == 0 && p.pez.lr == 0.02 && p.pez.init_random == 1 && p.pez.reset_quirk == 1 && p.pez.steps == 3 &&
          p.pez.batch == 2 && p.pez.eval_every == 1 && p.pez.clip == 0, "PEZ settings: %s", err.msg);
    point_free(&p);
    // the issue-11 keys: the prompt vocabulary, and the method's own new key (PEZ's log-PPL
    // gradient, RLPrompt's reward), parsed and in the canonical JSON
    const struct {
        const char *point, *what;
        PromptVocab vocab;
        int setting; // p.pez.ppl_grad for PEZ, p.rl.reward for RLPrompt
        const char *canonical[2];
    } issue11[] = {
        {"{\"method\":\"pez\",\"task\":\"sst-2\"," BASE ",\"prompt_vocab\":\"utf8\",\"pez\":{\"ppl_grad\":\"input\"}}",
         "prompt_vocab utf8, ppl_grad input", PROMPT_VOCAB_UTF8, PEZ_PPL_GRAD_INPUT,
         {"\"ppl_grad\":\"input\"", "\"prompt_vocab\":\"utf8\""}},
        {"{\"method\":\"rlprompt\",\"task\":\"sst-2\"," BASE ",\"prompt_vocab\":\"ascii\",\"rlprompt\":{\"reward\":\"gap\"}}",
         "prompt_vocab ascii, reward gap", PROMPT_VOCAB_ASCII, RL_REWARD_GAP,
         {"\"reward\":\"gap\"", "\"prompt_vocab\":\"ascii\""}},
    };
    for (size_t i = 0; i < sizeof issue11 / sizeof issue11[0]; i++) {
        rc = parse(&p, issue11[i].point, &err);
        int setting = rc != 0 ? -1 : p.method == METHOD_PEZ ? (int)p.pez.ppl_grad : (int)p.rl.reward;
        CHECK(rc == 0 && p.prompt_vocab == issue11[i].vocab && setting == issue11[i].setting &&
                  strstr(p.canonical_json, issue11[i].canonical[0]) && strstr(p.canonical_json, issue11[i].canonical[1]),
              "%s: %s", issue11[i].what, err.msg);
        point_free(&p);
    }

    // the precision (issue 14): parsed, in the canonical JSON (so in the record and the point's id)
    rc = parse(&p, "{\"method\":\"pez\",\"task\":\"sst-2\"," BASE ",\"precision\":\"bf16\"}", &err);
    CHECK(rc == 0 && p.precision == GPT2_BF16 && strstr(p.canonical_json, "\"pez\":{") &&
              strstr(p.canonical_json, "},\"precision\":\"bf16\",\"prompt_length\":10,"),
          "precision bf16: %s", rc ? err.msg : p.canonical_json);
    if (rc == 0) {
        TunePoint f32, q;
        CHECK(point_parse(&q, p.canonical_json, &err) == 0 && strcmp(q.canonical_json, p.canonical_json) == 0,
              "precision: the canonical JSON is not a fixed point");
        point_free(&q);
        CHECK(parse(&f32, "{\"method\":\"pez\",\"task\":\"sst-2\"," BASE ",\"precision\":\"f32\"}", &err) == 0 &&
                  f32.precision == GPT2_F32 && strstr(f32.canonical_json, "\"precision\":\"f32\""),
              "precision f32: %s", err.msg);
        point_free(&f32);
    }
    point_free(&p);

    // RLPrompt: its own template and prompt length; settings; the policy model
    rc = parse(&p, "{\"method\":\"rlprompt\",\"task\":\"agnews\"," BASE ",\"policy_model\":\"@/model\","
                   "\"rlprompt\":{\"steps\":7,\"top_k\":5,\"polyak\":0.5,\"reward_scale\":1}}", &err);
    CHECK(rc == 0, "RLPrompt point: %s", err.msg);
    if (rc == 0) {
        CHECK(p.method == METHOD_RLPROMPT && p.prompt_length == 5 && strcmp(p.template_text, "{sentence}[P]") == 0,
              "RLPrompt defaults: L %d template [%s]", p.prompt_length, p.template_text);
        CHECK(p.n_classes == 4 && strcmp(p.verbalizers[3], "Tech") == 0, "agnews verbalizers");
        CHECK(p.rl.steps == 7 && p.rl.top_k == 5 && p.rl.polyak == 0.5 && p.rl.reward_scale == 1 && p.rl.hidden == 2048,
              "RLPrompt settings");
        CHECK(p.policy_dir[0] == '\0', "the task model named as policy is the default");
        CHECK(strstr(p.canonical_json, "\"rlprompt\":{\"clip\":5,\"eval_every\":10,\"hidden\":2048,\"lr\":5e-05,"
                                       "\"polyak\":0.5,\"prompts_per_step\":16,\"reward\":\"objective\",\"reward_scale\":1,"
                                       "\"steps\":7,\"top_k\":5}") &&
              strstr(p.canonical_json, "\"policy_model\":\"\"") && !strstr(p.canonical_json, "\"pez\""),
              "RLPrompt canonical: %s", p.canonical_json);
        point_free(&p);
    }
    // a custom task, explicit data paths, every scalar given
    rc = parse(&p, "{\"method\":\"rlprompt\",\"task\":\"custom\",\"verbalizers\":[\" a\",\" b\",\" c\"],"
                   "\"model\":\"@/model\",\"scorer_model\":\"@/model\",\"dictionary\":\"@/words\","
                   "\"data\":{\"train\":\"@/data/test.tsv\",\"dev\":\"@/data/test.tsv\",\"test\":\"@/data/test.tsv\"},"
                   "\"lambda\":0.25,\"objective\":\"convex\",\"prompt_length\":64,\"seed\":9007199254740991,"
                   "\"template\":\"Q: {sentence} A:[P]\",\"max_tokens\":50,\"max_test\":100}", &err);
    CHECK(rc == 0, "custom point: %s", err.msg);
    if (rc == 0) {
        CHECK(p.n_classes == 3 && strcmp(p.verbalizers[2], " c") == 0, "custom verbalizers");
        CHECK(p.lambda == 0.25 && p.objective == OBJECTIVE_CONVEX && p.prompt_length == 64 &&
              p.seed == 9007199254740991ull && p.max_tokens == 50 && p.max_test == 100, "custom scalars");
        CHECK(strcmp(p.template_text, "Q: {sentence} A:[P]") == 0 && p.scorer_dir[0] == '\0', "custom template");
        CHECK(strstr(p.canonical_json, "\"seed\":9007199254740991"), "big seed: %s", p.canonical_json);
        double wt, wi;
        objective_weights(&p, &wt, &wi);
        CHECK(wt == 0.75 && wi == 0.25, "convex weights %g %g", wt, wi);
        point_free(&p);
    }
    rc = parse(&p, "{\"method\":\"pez\",\"task\":\"sst-5\",\"verbalizers\":[\" 1\",\" 2\",\" 3\",\" 4\",\" 5\"]," BASE
                   ",\"lambda\":2}", &err);
    CHECK(rc == 0 && p.n_classes == 5 && strcmp(p.verbalizers[4], " 5") == 0, "task verbalizers overridden: %s", err.msg);
    if (rc == 0) {
        double wt, wi;
        objective_weights(&p, &wt, &wi);
        CHECK(wt == 1 && wi == 2, "additive weights %g %g", wt, wi);
        point_free(&p);
    }
    // the activation budget: MB, or "none" (0); not part of the canonical JSON (it splits batches,
    // the results stay the same)
    {
        TunePoint a, b, c;
        int ra = parse(&a, "{\"method\":\"soft\",\"task\":\"sst-2\"," BASE "}", &err);
        int rb = parse(&b, "{\"method\":\"soft\",\"task\":\"sst-2\"," BASE ",\"activation_mb\":\"none\"}", &err);
        int rc3 = parse(&c, "{\"method\":\"soft\",\"task\":\"sst-2\"," BASE ",\"activation_mb\":12.5}", &err);
        CHECK(ra == 0 && rb == 0 && rc3 == 0, "activation_mb: %s", err.msg);
        if (ra == 0 && rb == 0 && rc3 == 0) {
            CHECK(b.activation_mb == 0 && c.activation_mb == 12.5, "activation_mb none %g, 12.5 %g", b.activation_mb,
                  c.activation_mb);
            CHECK(strcmp(a.canonical_json, b.canonical_json) == 0 && strcmp(a.canonical_json, c.canonical_json) == 0 &&
                      !strstr(a.canonical_json, "activation"),
                  "activation_mb changed the canonical JSON: %s", c.canonical_json);
        }
        if (ra == 0) point_free(&a);
        if (rb == 0) point_free(&b);
        if (rc3 == 0) point_free(&c);
    }
    // the default word list, where installed
    if (access("/usr/share/dict/words", R_OK) == 0) {
        rc = parse(&p, "{\"method\":\"pez\",\"task\":\"sst-2\",\"model\":\"@/model\",\"data_dir\":\"@/data/\","
                       "\"split\":\"16-1\"}", &err);
        CHECK(rc == 0 && strcmp(p.dict_path, "/usr/share/dict/words") == 0, "default dictionary: %s", err.msg);
        snprintf(want, sizeof want, "%s/data/16-1/train.tsv", root);
        CHECK(rc || strcmp(p.train_path, want) == 0, "data_dir with a trailing slash: [%s]", p.train_path);
        if (rc == 0) point_free(&p);
    }
}

// ----------------------------------------------------------------------------
// bad points

/* The point fails with a message holding `piece`, and leaves nothing behind. */
static void expect_bad(const char *fmt, const char *piece) {
    TunePoint p;
    Err err = {{0}};
    int rc = parse(&p, fmt, &err);
    CHECK(rc != 0, "accepted: %s", fmt);
    if (rc == 0) {
        point_free(&p);
        return;
    }
    CHECK(strstr(err.msg, piece) != NULL, "message \"%s\" lacks \"%s\" (point %s)", err.msg, piece, fmt);
    CHECK(strncmp(err.msg, "point: ", 7) == 0 && !strchr(err.msg, '\n'), "not one line starting \"point: \": %s", err.msg);
    CHECK(p.canonical_json == NULL, "a failed parse left canonical JSON");
}

#define PEZ "\"method\":\"pez\",\"task\":\"sst-2\"," BASE
#define PEZ_MODEL "\"method\":\"pez\",\"task\":\"sst-2\",\"model\":\"@/model\"" // no data, no dictionary

static void test_bad_points(void) {
    // not a JSON object
    expect_bad("", "not valid JSON");
    expect_bad("{\"method\":", "not valid JSON");
    expect_bad("{" PEZ "} extra", "not valid JSON");
    expect_bad("[1, 2]", "expected a JSON object");
    // unknown and repeated keys, at every level
    expect_bad("{" PEZ ",\"lamda\":1}", "unknown key \"lamda\"");
    expect_bad("{" PEZ ",\"pez\":{\"stepz\":1}}", "unknown key \"pez.stepz\"");
    expect_bad("{" PEZ ",\"rlprompt\":{\"gamma\":1}}", "unknown key \"rlprompt.gamma\"");
    expect_bad("{" PEZ_MODEL ",\"dictionary\":\"@/words\","
               "\"data\":{\"train\":\"@/data/test.tsv\",\"dev\":\"@/data/test.tsv\",\"test\":\"@/data/test.tsv\",\"x\":1}}",
               "unknown key \"data.x\"");
    expect_bad("{" PEZ ",\"lambda\":1,\"lambda\":2}", "\"lambda\" given twice");
    // missing and conflicting keys
    expect_bad("{\"task\":\"sst-2\"," BASE "}", "missing \"method\"");
    expect_bad("{\"method\":\"pez\"," BASE "}", "missing \"task\"");
    expect_bad("{\"method\":\"pez\",\"task\":\"sst-2\",\"data_dir\":\"@/data\",\"split\":\"16-1\"}", "missing \"model\"");
    expect_bad("{" PEZ_MODEL "}", "missing \"data\"");
    expect_bad("{" PEZ_MODEL ",\"data_dir\":\"@/data\"}", "missing \"split\"");
    expect_bad("{" PEZ ",\"data\":{\"train\":\"@/data/test.tsv\"}}", "not both");
    expect_bad("{" PEZ_MODEL ",\"data\":{\"train\":\"@/data/test.tsv\"}}", "missing \"data.dev\"");
    expect_bad("{" PEZ_MODEL ",\"data_dir\":\"@/data\",\"split\":\"../x\"}", "\"split\"");
    // unknown values
    expect_bad("{\"method\":\"sgd\",\"task\":\"sst-2\"," BASE "}", "\"method\" is \"sgd\"");
    expect_bad("{\"method\":\"pez\",\"task\":\"imdb\"," BASE "}", "\"task\" is \"imdb\"");
    expect_bad("{\"method\":\"pez\",\"task\":\"custom\"," BASE "}", "needs \"verbalizers\"");
    expect_bad("{" PEZ ",\"objective\":\"product\"}", "\"objective\" is \"product\"");
    expect_bad("{" PEZ ",\"pez\":{\"optimizer\":\"sgd\"}}", "\"pez.optimizer\"");
    expect_bad("{" PEZ ",\"pez\":{\"init\":\"zeros\"}}", "\"pez.init\"");
    expect_bad("{" PEZ ",\"prompt_vocab\":\"latin1\"}", "\"prompt_vocab\" is \"latin1\", expected \"all\" or \"utf8\" or \"ascii\"");
    expect_bad("{" PEZ ",\"prompt_vocab\":true}", "\"prompt_vocab\" must be");
    expect_bad("{" PEZ ",\"activation_mb\":-1}", "\"activation_mb\" must be >= 0");
    expect_bad("{" PEZ ",\"activation_mb\":\"lots\"}", "\"activation_mb\" is \"lots\", expected a number of MB or \"none\"");
    expect_bad("{" PEZ ",\"activation_mb\":true}", "\"activation_mb\" must be a number");
    expect_bad("{" PEZ ",\"precision\":\"fp16\"}", "\"precision\" is \"fp16\", expected \"f32\" or \"bf16\"");
    expect_bad("{" PEZ ",\"precision\":16}", "\"precision\" must be");
    expect_bad("{" PEZ ",\"pez\":{\"ppl_grad\":\"target\"}}", "\"pez.ppl_grad\" is \"target\"");
    expect_bad("{" PEZ ",\"rlprompt\":{\"reward\":\"accuracy\"}}", "\"rlprompt.reward\" is \"accuracy\"");
    // wrong types
    expect_bad("{\"method\":1,\"task\":\"sst-2\"," BASE "}", "\"method\" must be");
    expect_bad("{" PEZ ",\"lambda\":\"0.1\"}", "\"lambda\" must be a number");
    expect_bad("{" PEZ ",\"prompt_length\":5.5}", "\"prompt_length\" must be an integer");
    expect_bad("{" PEZ ",\"seed\":-1}", "\"seed\"");
    expect_bad("{" PEZ ",\"seed\":\"7\"}", "\"seed\"");
    expect_bad("{" PEZ ",\"seed\":1e300}", "\"seed\"");
    expect_bad("{" PEZ ",\"pez\":[]}", "\"pez\" must be an object");
    expect_bad("{" PEZ ",\"pez\":{\"reset_quirk\":1}}", "\"pez.reset_quirk\" must be true or false");
    expect_bad("{" PEZ ",\"verbalizers\":\" bad\"}", "\"verbalizers\" must be an array");
    expect_bad("{" PEZ ",\"verbalizers\":[\" bad\",2]}", "\"verbalizers\"[1]");
    expect_bad("{" PEZ ",\"template\":3}", "\"template\" must be a string");
    expect_bad("{\"method\":\"pez\",\"task\":\"sst-2\",\"model\":null,\"data_dir\":\"@/data\",\"split\":\"16-1\"}",
               "\"model\" must be a string");
    // out of range
    expect_bad("{" PEZ ",\"lambda\":-0.5}", "\"lambda\" must be >= 0");
    expect_bad("{" PEZ ",\"lambda\":1.5,\"objective\":\"convex\"}", "convex objective needs it in [0, 1]");
    expect_bad("{" PEZ ",\"prompt_length\":0}", "\"prompt_length\" must be in 1..64");
    expect_bad("{" PEZ ",\"prompt_length\":65}", "\"prompt_length\" must be in 1..64");
    expect_bad("{" PEZ ",\"max_tokens\":0}", "\"max_tokens\"");
    expect_bad("{" PEZ ",\"max_test\":-1}", "\"max_test\"");
    expect_bad("{" PEZ ",\"pez\":{\"steps\":0}}", "\"pez.steps\"");
    expect_bad("{" PEZ ",\"pez\":{\"lr\":0}}", "\"pez.lr\" must be > 0");
    expect_bad("{" PEZ ",\"rlprompt\":{\"polyak\":2}}", "\"rlprompt.polyak\"");
    expect_bad("{" PEZ ",\"rlprompt\":{\"top_k\":0}}", "\"rlprompt.top_k\"");
    expect_bad("{" PEZ ",\"verbalizers\":[\" a\",\" b\",\" c\"]}", "task sst-2 has 2 classes");
    expect_bad("{\"method\":\"pez\",\"task\":\"custom\",\"verbalizers\":[\" a\"]," BASE "}", "expected 2..16");
    expect_bad("{" PEZ ",\"verbalizers\":[\"\",\" b\"]}", "\"verbalizers\"[0] must be a non-empty string");
    // templates
    expect_bad("{" PEZ ",\"template\":\"{sentence} It was\"}", "\"template\"");
    expect_bad("{" PEZ ",\"template\":\"[P][P]{sentence}\"}", "\"template\"");
    expect_bad("{" PEZ ",\"template\":\"[P] It was\"}", "\"template\"");
    // missing files
    expect_bad("{\"method\":\"pez\",\"task\":\"sst-2\",\"model\":\"@/nomodel\",\"data_dir\":\"@/data\",\"split\":\"16-1\","
               "\"dictionary\":\"@/words\"}", "nomodel has no readable config.json");
    expect_bad("{\"method\":\"pez\",\"task\":\"sst-2\",\"model\":\"@/data\",\"data_dir\":\"@/data\",\"split\":\"16-1\","
               "\"dictionary\":\"@/words\"}", "config.json");
    expect_bad("{" PEZ ",\"scorer_model\":\"@/data\"}", "\"scorer_model\"");
    expect_bad("{\"method\":\"rlprompt\",\"task\":\"sst-2\"," BASE ",\"policy_model\":\"@/nope\"}", "\"policy_model\"");
    expect_bad("{" PEZ_MODEL ",\"data_dir\":\"@/data\",\"split\":\"16-2\","
               "\"dictionary\":\"@/words\"}", "\"data.train\"");
    expect_bad("{" PEZ_MODEL ",\"dictionary\":\"@/words\","
               "\"data\":{\"train\":\"@/data/test.tsv\",\"dev\":\"@/data/test.tsv\",\"test\":\"@/data/nope.tsv\"}}",
               "\"data.test\": cannot read");
    expect_bad("{" PEZ_MODEL ",\"data_dir\":\"@/data\",\"split\":\"16-1\","
               "\"dictionary\":\"@/no-words\"}", "\"dictionary\"");
}

// ----------------------------------------------------------------------------
// soft prompt tuning and the empty manual prompt

/* Method soft: PEZ's settings under "soft" (same keys, defaults, template and prompt length);
 * its canonical JSON keeps "soft" only, so a "pez" object on a soft point (checked) and a
 * "soft" object on a PEZ point change nothing; the reset quirk is refused; soft and PEZ points
 * differ. The empty manual prompt is a point (the template alone). */
static void test_soft_and_empty(void) {
    TunePoint p, q;
    Err err;
    char want[24576];
    int rc = parse(&p, "{\"method\":\"soft\",\"task\":\"sst-2\"," BASE "}", &err);
    CHECK(rc == 0, "minimal soft point: %s", err.msg);
    if (rc == 0) {
        const PezSettings *s = &p.pez;
        CHECK(p.method == METHOD_SOFT && p.prompt_length == 10 && strcmp(p.template_text, "[P]{sentence} It was") == 0,
              "soft defaults: L %d, template [%s]", p.prompt_length, p.template_text);
        CHECK(s->steps == 1000 && s->batch == 16 && s->eval_every == 10 && s->optimizer == PEZ_ADAFACTOR &&
                  s->lr == 0.3 && s->weight_decay == 0.1 && s->clip == 1.0 && !s->init_random && !s->reset_quirk &&
                  s->ppl_grad == PEZ_PPL_GRAD_FULL,
              "soft settings are not PEZ's defaults");
        snprintf(want, sizeof want,
                 "{\"data\":{\"dev\":\"%s/data/16-1/dev.tsv\",\"test\":\"%s/data/test.tsv\",\"train\":\"%s/data/16-1/train.tsv\"},"
                 "\"dictionary\":\"%s/words\",\"lambda\":0,\"max_test\":0,\"max_tokens\":128,\"method\":\"soft\","
                 "\"model\":\"%s/model\",\"objective\":\"additive\",\"precision\":\"f32\",\"prompt_length\":10,\"prompt_vocab\":\"all\","
                 "\"scorer_model\":\"\",\"seed\":0,\"soft\":{\"batch\":16,\"clip\":1,\"eval_every\":10,"
                 "\"init\":\"classes\",\"lr\":0.3,\"optimizer\":\"adafactor\",\"ppl_grad\":\"full\",\"reset_quirk\":false,"
                 "\"steps\":1000,\"weight_decay\":0.1},\"task\":\"sst-2\","
                 "\"template\":\"[P]{sentence} It was\",\"verbalizers\":[\" terrible\",\" great\"]}",
                 root, root, root, root, root);
        CHECK(strcmp(p.canonical_json, want) == 0, "soft canonical JSON:\n  got  %s\n  want %s", p.canonical_json, want);
        rc = point_parse(&q, p.canonical_json, &err);
        CHECK(rc == 0 && strcmp(q.canonical_json, p.canonical_json) == 0, "soft canonical JSON is not a fixed point: %s",
              err.msg);
        if (rc == 0) point_free(&q);
        // a "pez" object on a soft point is checked, not kept
        rc = parse(&q, "{\"method\":\"soft\",\"task\":\"sst-2\"," BASE ",\"pez\":{\"steps\":5,\"reset_quirk\":true}}",
                   &err);
        CHECK(rc == 0 && strcmp(q.canonical_json, p.canonical_json) == 0 && q.pez.steps == 1000,
              "a pez object changed a soft point: %s", rc ? err.msg : q.canonical_json);
        if (rc == 0) point_free(&q);
        // the same settings as PEZ: another point
        rc = parse(&q, "{\"method\":\"pez\",\"task\":\"sst-2\"," BASE "}", &err);
        char sha[N_POINT_INPUTS][65] = {{0}}, id_soft[65], id_pez[65];
        CHECK(rc == 0 && point_identity(&p, sha, id_soft) == 0 && point_identity(&q, sha, id_pez) == 0 &&
                  strcmp(id_soft, id_pez) != 0,
              "soft and pez points share an identity");
        if (rc == 0) point_free(&q);
        point_free(&p);
    }
    // soft's own settings, and a "soft" object on a PEZ point (checked, not kept)
    rc = parse(&p, "{\"method\":\"soft\",\"task\":\"sst-2\"," BASE ",\"soft\":{\"optimizer\":\"adamw\",\"steps\":3,"
                   "\"init\":\"random\",\"ppl_grad\":\"input\"}}", &err);
    CHECK(rc == 0 && p.pez.optimizer == PEZ_ADAMW && p.pez.lr == 0.1 && p.pez.steps == 3 && p.pez.init_random &&
              p.pez.ppl_grad == PEZ_PPL_GRAD_INPUT && strstr(p.canonical_json, "\"soft\":{\"batch\":16") &&
              !strstr(p.canonical_json, "\"pez\""),
          "soft settings: %s", rc ? err.msg : p.canonical_json);
    if (rc == 0) point_free(&p);
    rc = parse(&p, "{\"method\":\"pez\",\"task\":\"sst-2\"," BASE ",\"soft\":{\"steps\":3}}", &err);
    CHECK(rc == 0 && p.pez.steps == 1000 && !strstr(p.canonical_json, "\"soft\""), "a soft object on a PEZ point: %s",
          rc ? err.msg : p.canonical_json);
    if (rc == 0) point_free(&p);
    expect_bad("{\"method\":\"soft\",\"task\":\"sst-2\"," BASE ",\"soft\":{\"reset_quirk\":true}}", "\"soft.reset_quirk\"");
    expect_bad("{\"method\":\"soft\",\"task\":\"sst-2\"," BASE ",\"soft\":{\"stepz\":1}}", "unknown key \"soft.stepz\"");
    expect_bad("{\"method\":\"soft\",\"task\":\"sst-2\"," BASE ",\"soft\":{\"lr\":0}}", "\"soft.lr\"");
    expect_bad("{" PEZ ",\"soft\":{\"batch\":0}}", "\"soft.batch\"");
    expect_bad("{\"method\":\"soft\",\"task\":\"sst-2\"," BASE ",\"pez\":{\"stepz\":1}}", "unknown key \"pez.stepz\"");
    expect_bad("{\"method\":\"soft\",\"task\":\"sst-2\"," BASE ",\"prompt\":\"x\"}", "only for the \"manual\" method");

    // the empty manual prompt: the template alone, a point of its own
    rc = parse(&p, "{\"method\":\"manual\",\"task\":\"sst-2\"," BASE ",\"prompt\":\"\"}", &err);
    CHECK(rc == 0 && p.manual_prompt[0] == '\0' && strstr(p.canonical_json, "\"prompt\":\"\",") &&
              !strstr(p.canonical_json, "\"prompt_length\""),
          "the empty manual prompt: %s", rc ? err.msg : p.canonical_json);
    if (rc == 0) point_free(&p);
    expect_bad("{\"method\":\"manual\",\"task\":\"sst-2\"," BASE ",\"prompt\":\"\",\"prompt_length\":0}",
               "\"prompt_length\" comes from the manual \"prompt\"");
    CHECK(strcmp(method_name(METHOD_SOFT), "soft") == 0 && strcmp(method_name(METHOD_MANUAL), "manual") == 0,
          "method names");
}

// ----------------------------------------------------------------------------
// canonical JSON

static void test_canonical(void) {
    const char *same[] = {
        "{\"method\":\"rlprompt\",\"task\":\"sst-2\"," BASE ",\"lambda\":1,\"seed\":3,\"rlprompt\":{\"lr\":0.0001}}",
        "  {\n  \"seed\" : 3.0 ,\"rlprompt\":{ \"lr\":1e-4 },\"lambda\" : 1.0,\n\t\"task\":\"sst-2\",\"method\":\"rlprompt\","
        "\"split\":\"16-1\",\"dictionary\":\"@/words\",\"data_dir\":\"@/data\",\"model\":\"@/model\"}\n",
        // data as three paths; defaults given explicitly; the other method's settings (ignored)
        "{\"method\":\"rlprompt\",\"task\":\"sst-2\",\"model\":\"@/model\",\"dictionary\":\"@/words\",\"lambda\":1,"
        "\"seed\":3,\"data\":{\"test\":\"@/data/test.tsv\",\"dev\":\"@/data/16-1/dev.tsv\",\"train\":\"@/data/16-1/train.tsv\"},"
        "\"rlprompt\":{\"lr\":0.0001,\"top_k\":256},\"template\":\"{sentence}[P]\",\"prompt_length\":5,"
        "\"verbalizers\":[\" terrible\",\" great\"],\"objective\":\"additive\",\"scorer_model\":\"\",\"pez\":{\"steps\":5}}",
    };
    TunePoint p, q;
    Err err;
    if (parse(&p, same[0], &err)) die("canonical base: %s", err.msg);
    for (int i = 1; i < 3; i++) {
        int rc = parse(&q, same[i], &err);
        CHECK(rc == 0, "equivalent point %d: %s", i, err.msg);
        if (rc) continue;
        CHECK(strcmp(p.canonical_json, q.canonical_json) == 0, "equivalent point %d differs:\n  %s\n  %s", i,
              p.canonical_json, q.canonical_json);
        point_free(&q);
    }
    // a fixed point: the canonical text parses to itself
    int rc = point_parse(&q, p.canonical_json, &err);
    CHECK(rc == 0 && strcmp(p.canonical_json, q.canonical_json) == 0, "canonical JSON is not a fixed point: %s", err.msg);
    if (rc == 0) point_free(&q);
    CHECK(strstr(p.canonical_json, "\"lr\":0.0001") && strstr(p.canonical_json, "\"lambda\":1,"), "numbers: %s",
          p.canonical_json);
    CHECK(!strchr(p.canonical_json, ' ') || strstr(p.canonical_json, "\" terrible\""), "whitespace in %s", p.canonical_json);
    // different points differ
    const char *other[] = {
        "{\"method\":\"rlprompt\",\"task\":\"sst-2\"," BASE ",\"lambda\":1,\"seed\":4,\"rlprompt\":{\"lr\":0.0001}}",
        "{\"method\":\"rlprompt\",\"task\":\"sst-2\"," BASE ",\"lambda\":1.5,\"seed\":3,\"rlprompt\":{\"lr\":0.0001}}",
        "{\"method\":\"rlprompt\",\"task\":\"sst-2\"," BASE ",\"lambda\":1,\"seed\":3,\"rlprompt\":{\"lr\":0.0002}}",
        "{\"method\":\"rlprompt\",\"task\":\"sst-2\"," BASE ",\"lambda\":1,\"seed\":3,\"rlprompt\":{\"lr\":0.0001},\"prompt_length\":6}",
    };
    for (int i = 0; i < 4; i++) {
        rc = parse(&q, other[i], &err);
        CHECK(rc == 0 && strcmp(p.canonical_json, q.canonical_json) != 0, "different point %d: same canonical", i);
        if (rc == 0) point_free(&q);
    }
    // the canonical text is valid JSON with sorted keys at every level
    cJSON *j = cJSON_Parse(p.canonical_json);
    CHECK(j != NULL, "canonical JSON does not parse");
    for (cJSON *it = j ? j->child : NULL; it && it->next; it = it->next)
        CHECK(strcmp(it->string, it->next->string) < 0, "keys out of order: %s before %s", it->string, it->next->string);
    cJSON *rl = cJSON_GetObjectItem(j, "rlprompt");
    for (cJSON *it = rl ? rl->child : NULL; it && it->next; it = it->next)
        CHECK(strcmp(it->string, it->next->string) < 0, "rlprompt keys out of order: %s", it->string);
    cJSON_Delete(j);
    point_free(&p);
}

// ----------------------------------------------------------------------------
// the record

/* util/record.h's tables, as data */
typedef struct {
    const char *key;
    int when;
} SchemaKey;
#define SCHEMA_KEY(key, when) {key, when},
static const SchemaKey TOP_KEYS[] = {RECORD_KEYS(SCHEMA_KEY)};
static const SchemaKey PROMPT_KEYS[] = {RECORD_PROMPT_KEYS(SCHEMA_KEY)};
static const SchemaKey ACCURACY_KEYS[] = {RECORD_ACCURACY_KEYS(SCHEMA_KEY)};
static const SchemaKey SPLIT_KEYS[] = {RECORD_SPLIT_KEYS(SCHEMA_KEY)};
static const SchemaKey OBJECTIVE_KEYS[] = {RECORD_OBJECTIVE_KEYS(SCHEMA_KEY)};
static const SchemaKey FAITHFULNESS_KEYS[] = {RECORD_FAITHFULNESS_KEYS(SCHEMA_KEY)};
static const SchemaKey HISTORY_KEYS[] = {RECORD_HISTORY_KEYS(SCHEMA_KEY)};
static const SchemaKey VERSIONS_KEYS[] = {RECORD_VERSIONS_KEYS(SCHEMA_KEY)};
static const SchemaKey RUN_KEYS[] = {RECORD_RUN_KEYS(SCHEMA_KEY)};
static const SchemaKey DATA_KEYS[] = {RECORD_DATA_KEYS(SCHEMA_KEY)};
static const SchemaKey MODEL_KEYS[] = {RECORD_MODEL_KEYS(SCHEMA_KEY)};
#define SCHEMA(keys) keys, (int)(sizeof keys / sizeof keys[0])

/* The members of obj are exactly the schema's keys present in a record that is ok (or not) of
 * a run that loaded the model (or not: model 0; model 2: and its splits), in the schema's order. */
static void check_schema(const cJSON *obj, const SchemaKey *schema, int n, int ok, int model, const char *what) {
    CHECK(cJSON_IsObject(obj), "%s is not an object", what);
    const cJSON *it = obj ? obj->child : NULL;
    for (int k = 0; k < n; k++) {
        if ((schema[k].when == RECORD_IF_OK && !ok) || (schema[k].when == RECORD_IF_MODEL && !model) ||
            (schema[k].when == RECORD_IF_DATA && model < 2))
            continue;
        CHECK(it && strcmp(it->string, schema[k].key) == 0, "%s: \"%s\" where the schema has \"%s\"", what,
              it ? it->string : "(the end)", schema[k].key);
        if (it) it = it->next;
    }
    CHECK(!it, "%s: \"%s\" is not in the schema", what, it ? it->string : "");
}

/* A whole record against the schema, its nested objects too. */
static void check_record_schema(const cJSON *rec, int ok, int model, const char *what) {
    check_schema(rec, SCHEMA(TOP_KEYS), ok, model, what);
    check_schema(cJSON_GetObjectItem(rec, REC_PROMPT), SCHEMA(PROMPT_KEYS), ok, model, REC_PROMPT);
    check_schema(cJSON_GetObjectItem(rec, REC_ACCURACY), SCHEMA(ACCURACY_KEYS), ok, model, REC_ACCURACY);
    if (ok) {
        const char *per_split[] = {REC_BALANCED_ACCURACY, REC_CLASS_ACCURACY, REC_PREDICTION_SHARE, REC_TASK_LOSS};
        for (int k = 0; k < 4; k++)
            check_schema(cJSON_GetObjectItem(rec, per_split[k]), SCHEMA(SPLIT_KEYS), ok, model, per_split[k]);
        check_schema(cJSON_GetObjectItem(rec, REC_OBJECTIVE), SCHEMA(OBJECTIVE_KEYS), ok, model, REC_OBJECTIVE);
    }
    check_schema(cJSON_GetObjectItem(rec, REC_FAITHFULNESS), SCHEMA(FAITHFULNESS_KEYS), ok, model, REC_FAITHFULNESS);
    const cJSON *h;
    cJSON_ArrayForEach(h, cJSON_GetObjectItem(rec, REC_HISTORY))
        check_schema(h, SCHEMA(HISTORY_KEYS), ok, model, REC_HISTORY);
    check_schema(cJSON_GetObjectItem(rec, REC_VERSIONS), SCHEMA(VERSIONS_KEYS), ok, model, REC_VERSIONS);
    check_schema(cJSON_GetObjectItem(rec, REC_RUN), SCHEMA(RUN_KEYS), ok, model, REC_RUN);
    if (model) check_schema(cJSON_GetObjectItem(rec, REC_MODEL), SCHEMA(MODEL_KEYS), ok, model, REC_MODEL);
    if (model >= 2) {
        const cJSON *files = cJSON_GetObjectItem(rec, REC_DATA_FILES);
        check_schema(files, SCHEMA(SPLIT_KEYS), ok, model, REC_DATA_FILES);
        const char *names[] = {REC_TRAIN, REC_DEV};
        for (int k = 0; k < 2; k++) check_schema(cJSON_GetObjectItem(files, names[k]), SCHEMA(DATA_KEYS), ok, model, names[k]);
        // test's object has one key more, the examples scored
        const SchemaKey test_keys[] = {RECORD_DATA_KEYS(SCHEMA_KEY) {REC_DATA_SCORED, RECORD_ALWAYS}};
        check_schema(cJSON_GetObjectItem(files, REC_TEST), SCHEMA(test_keys), ok, model, REC_TEST);
    }
}

/* A run's provenance as tune fills it (tune_main.c), with values a test can hold the record to. */
static TuneProvenance test_provenance(int have_model, int have_data) {
    static const char *const argv[] = {"bin/tune", "--quiet", "p\"q\xff.json"};   // a quote, a stray byte
    TuneProvenance v;
    memset(&v, 0, sizeof v);
    v.code_version = util_code_version();
    snprintf(v.host, sizeof v.host, "node-7");
    v.argv = argv;
    v.argc = 3;
    snprintf(v.openblas_core, sizeof v.openblas_core, "SkylakeX");
    v.openblas_threads = 2;
    v.openblas_coretype = NULL;
    v.have_model = have_model;
    v.n_layer = 2, v.n_head = 4, v.n_embd = 64, v.n_positions = 128, v.random_init = 1;
    v.have_data = have_data;
    for (int sp = 0; sp < TUNE_N_SPLITS; sp++) {
        memset(v.data_sha256[sp], 'a' + sp, 64);
        v.data_sha256[sp][64] = '\0';
        v.data_n[sp] = 32 + sp;
    }
    v.test_scored = 20;
    return v;
}

static void test_record(void) {
    TunePoint p;
    Err err;
    if (parse(&p, "{" PEZ ",\"seed\":5}", &err)) die("record point: %s", err.msg);
    TuneResult r;
    memset(&r, 0, sizeof r);
    int ids[3] = {11, 22, 33};
    memcpy(r.prompt_ids, ids, sizeof ids);
    r.prompt_length = 3;
    snprintf(r.prompt_text, sizeof r.prompt_text, "say \"hi\"\n\xE2\x82"); // quotes, newline, half a character
    r.train_acc = 0.75; r.dev_acc = 0.5; r.test_acc = 0.625; r.dev_reward = -12.5;
    r.log_ppl = 2.0; r.ppl = exp(2.0); r.dict_share = 1.0 / 3;
    r.acc_continuous = 0.7; r.acc_projected = 0.625; r.kl_continuous_projected = 0.01;
    r.steps = 100; r.best_step = 40; r.wall_seconds = 1.5;
    r.n_classes = 2; r.vocab_size = 50257; r.distinct_share = 2.0 / 3;
    int text_ids[4] = {5, 6, 7, 8};
    memcpy(r.text_ids, text_ids, sizeof text_ids);
    r.n_text_ids = 4; r.roundtrip = 0; r.roundtrip_share = 0.25; r.test_text_acc = 0.5;
    for (int sp = 0; sp < TUNE_N_SPLITS; sp++) {
        r.eval[sp].balanced_accuracy = 0.5 + 0.125 * sp;
        r.eval[sp].class_accuracy[0] = 1.0;
        r.eval[sp].class_accuracy[1] = sp == 1 ? NAN : 0.25;   // a class absent from dev
        r.eval[sp].prediction_share[0] = 0.96;
        r.eval[sp].prediction_share[1] = 0.04;
        r.eval[sp].loss = 0.5 * (sp + 1);
    }
    r.collapsed = 1;
    r.w_task = 1; r.w_interp = 0.5; r.obj_task = 1.0; r.obj_interp = 2.0; r.obj_total = 2.0;
    for (int i = 0; i < 100; i++) {
        HistoryEntry h = {.step = (i + 1) * 10, .loss = 1.0 / (i + 1), .dev_acc = 0.5, .log_ppl = i == 3 ? NAN : 3.0};
        CHECK(result_add_history(&r, h, &err) == 0, "history %d: %s", i, err.msg);
    }
    CHECK(r.n_history == 100 && r.cap_history >= 100 && r.history[99].step == 1000, "history growth");
    const char *sha = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    TuneProvenance prov = test_provenance(1, 1);
    char *text = result_record_json(&p, &r, "ok", NULL, sha, &prov);
    CHECK(text != NULL, "no record");
    cJSON *j = text ? cJSON_Parse(text) : NULL;
    CHECK(j != NULL, "record is not JSON: %s", text ? text : "(null)");
    if (j) {
        cJSON *pt = cJSON_GetObjectItem(j, "point");
        char *pt_text = cJSON_PrintUnformatted(pt);
        CHECK(pt && cJSON_IsObject(pt) && strstr(text, p.canonical_json), "record point");
        free(pt_text);
        CHECK(strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(j, "status")), "ok") == 0, "status");
        CHECK(cJSON_IsNull(cJSON_GetObjectItem(j, "error")), "error not null");
        cJSON *prompt = cJSON_GetObjectItem(j, "prompt");
        cJSON *pids = cJSON_GetObjectItem(prompt, "ids");
        CHECK(cJSON_GetArraySize(pids) == 3 && cJSON_GetArrayItem(pids, 2)->valueint == 33, "prompt ids");
        const char *ptext = cJSON_GetStringValue(cJSON_GetObjectItem(prompt, "text"));
        CHECK(ptext && strcmp(ptext, "say \"hi\"\n\xEF\xBF\xBD\xEF\xBF\xBD") == 0, "prompt text [%s]", ptext ? ptext : "");
        cJSON *acc = cJSON_GetObjectItem(j, "accuracy");
        CHECK(cJSON_GetObjectItem(acc, "train")->valuedouble == 0.75 && cJSON_GetObjectItem(acc, "dev")->valuedouble == 0.5 &&
              cJSON_GetObjectItem(acc, "test")->valuedouble == 0.625, "accuracy");
        CHECK(cJSON_GetObjectItem(j, "dev_reward")->valuedouble == -12.5, "dev_reward");
        CHECK(cJSON_GetObjectItem(j, "log_ppl")->valuedouble == 2.0 && cJSON_GetObjectItem(j, "ppl")->valuedouble == exp(2.0),
              "log_ppl / ppl round-trip exactly");
        CHECK(cJSON_GetObjectItem(j, "dict_share")->valuedouble == 1.0 / 3, "dict_share round-trips exactly");
        cJSON *f = cJSON_GetObjectItem(j, "faithfulness");
        CHECK(cJSON_GetObjectItem(f, "acc_continuous")->valuedouble == 0.7 &&
              cJSON_GetObjectItem(f, "acc_projected")->valuedouble == 0.625 && cJSON_GetObjectItem(f, "kl")->valuedouble == 0.01,
              "faithfulness");
        CHECK(cJSON_GetObjectItem(j, "steps")->valueint == 100 && cJSON_GetObjectItem(j, "best_step")->valueint == 40 &&
              cJSON_GetObjectItem(j, "wall_seconds")->valuedouble == 1.5, "steps / best_step / wall_seconds");
        cJSON *hist = cJSON_GetObjectItem(j, "history");
        CHECK(cJSON_GetArraySize(hist) == 100, "history length %d", cJSON_GetArraySize(hist));
        cJSON *h3 = cJSON_GetArrayItem(hist, 3), *h0 = cJSON_GetArrayItem(hist, 0);
        CHECK(cJSON_GetObjectItem(h0, "step")->valueint == 10 && cJSON_GetObjectItem(h0, "loss")->valuedouble == 1.0 &&
              cJSON_GetObjectItem(h0, "dev_acc")->valuedouble == 0.5 && cJSON_GetObjectItem(h0, "log_ppl")->valuedouble == 3.0,
              "history entry 0");
        CHECK(cJSON_IsNull(cJSON_GetObjectItem(h3, "log_ppl")), "NaN is not null in JSON");
        cJSON *v = cJSON_GetObjectItem(j, "versions");
        CHECK(strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(v, "model_sha256")), sha) == 0 &&
              cJSON_IsString(cJSON_GetObjectItem(v, "tune")), "versions");
        // the text round trip, per-class scores, collapse, the objective
        CHECK(cJSON_IsFalse(cJSON_GetObjectItem(prompt, "roundtrip")) &&
                  cJSON_GetObjectItem(prompt, "roundtrip_share")->valuedouble == 0.25 &&
                  cJSON_GetArraySize(cJSON_GetObjectItem(prompt, "text_ids")) == 4 &&
                  cJSON_GetObjectItem(acc, "test_text")->valuedouble == 0.5,
              "round trip fields");
        cJSON *bal = cJSON_GetObjectItem(j, "balanced_accuracy"), *cls = cJSON_GetObjectItem(j, "class_accuracy");
        cJSON *pred = cJSON_GetObjectItem(j, "prediction_share"), *tl = cJSON_GetObjectItem(j, "task_loss");
        CHECK(cJSON_GetObjectItem(bal, "train")->valuedouble == 0.5 && cJSON_GetObjectItem(bal, "test")->valuedouble == 0.75 &&
                  cJSON_GetArraySize(cJSON_GetObjectItem(cls, "dev")) == 2 &&
                  cJSON_IsNull(cJSON_GetArrayItem(cJSON_GetObjectItem(cls, "dev"), 1)) &&
                  cJSON_GetArrayItem(cJSON_GetObjectItem(cls, "test"), 1)->valuedouble == 0.25 &&
                  cJSON_GetArrayItem(cJSON_GetObjectItem(pred, "test"), 0)->valuedouble == 0.96 &&
                  cJSON_GetObjectItem(tl, "test")->valuedouble == 1.5,
              "per-class fields");
        CHECK(cJSON_IsTrue(cJSON_GetObjectItem(j, "collapsed")), "collapsed");
        cJSON *obj = cJSON_GetObjectItem(j, "objective");
        CHECK(strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(obj, "split")), "dev") == 0 &&
                  strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(obj, "form")), "additive") == 0 &&
                  cJSON_GetObjectItem(obj, "task")->valuedouble == 1.0 &&
                  cJSON_GetObjectItem(obj, "interp")->valuedouble == 2.0 &&
                  cJSON_GetObjectItem(obj, "total")->valuedouble == 2.0 &&
                  cJSON_GetObjectItem(obj, "w_interp")->valuedouble == 0.5,
              "objective");
        CHECK(cJSON_GetObjectItem(j, "distinct_share")->valuedouble == 2.0 / 3 &&
                  cJSON_GetObjectItem(j, "vocab_size")->valueint == 50257,
              "distinct_share / vocab_size");
        // the literal names, so that a key renamed in the schema shows here too
        const char *order[] = {"point", "status", "error", "prompt", "accuracy", "balanced_accuracy", "class_accuracy",
                               "prediction_share", "collapsed", "task_loss", "objective", "dev_reward", "log_ppl",
                               "ppl", "dict_share", "distinct_share", "faithfulness", "steps", "stop_reason", "best_step",
                               "wall_seconds", "history", "vocab_size", "versions", "run", "data_files", "model"};
        int n_order = (int)(sizeof order / sizeof order[0]), k = 0;
        for (cJSON *it = j->child; it; it = it->next, k++)
            CHECK(k < n_order && strcmp(it->string, order[k]) == 0, "record key %d is %s", k, it->string);
        CHECK(k == n_order, "record has %d keys", k);
        // what reproduces the run (issue 15), the literal names again
        cJSON *run = cJSON_GetObjectItem(j, "run");
        cJSON *cmd = cJSON_GetObjectItem(run, "command");
        CHECK(strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(run, "code_version")), util_code_version()) == 0 &&
                  strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(run, "host")), "node-7") == 0 &&
                  cJSON_GetArraySize(cmd) == 3 &&
                  strcmp(cJSON_GetStringValue(cJSON_GetArrayItem(cmd, 2)), "p\"q\xEF\xBF\xBD.json") == 0 &&
                  strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(run, "openblas_core")), "SkylakeX") == 0 &&
                  cJSON_GetObjectItem(run, "openblas_threads")->valueint == 2 &&
                  cJSON_IsNull(cJSON_GetObjectItem(run, "openblas_coretype")),
              "run: %s", text);
        cJSON *files = cJSON_GetObjectItem(j, "data_files");
        cJSON *dev = cJSON_GetObjectItem(files, "dev"), *test = cJSON_GetObjectItem(files, "test");
        CHECK(strspn(cJSON_GetStringValue(cJSON_GetObjectItem(dev, "sha256")), "b") == 64 &&
                  cJSON_GetObjectItem(dev, "examples")->valueint == 33 &&
                  cJSON_GetObjectItem(test, "examples")->valueint == 34 && cJSON_GetObjectItem(test, "scored")->valueint == 20,
              "data_files");
        cJSON *model = cJSON_GetObjectItem(j, "model");
        CHECK(cJSON_GetObjectItem(model, "n_layer")->valueint == 2 && cJSON_GetObjectItem(model, "n_head")->valueint == 4 &&
                  cJSON_GetObjectItem(model, "n_embd")->valueint == 64 &&
                  cJSON_GetObjectItem(model, "n_positions")->valueint == 128 &&
                  cJSON_IsTrue(cJSON_GetObjectItem(model, "random_init")),
              "model");
        check_record_schema(j, 1, 2, "the ok record");
        cJSON_Delete(j);
    }
    // deterministic: same inputs, same bytes; only wall_seconds differs between runs
    char *again = result_record_json(&p, &r, "ok", NULL, sha, &prov);
    CHECK(text && again && strcmp(text, again) == 0, "two records of the same result differ");
    r.wall_seconds = 99.25;
    char *later = result_record_json(&p, &r, "ok", NULL, sha, &prov);
    char *w1 = text ? strstr(text, ",\"wall_seconds\":") : NULL, *w2 = later ? strstr(later, ",\"wall_seconds\":") : NULL;
    CHECK(w1 && w2 && (w1 - text) == (w2 - later) && strcmp(strchr(w1 + 1, ','), strchr(w2 + 1, ',')) == 0 &&
          strncmp(text, later, (size_t)(w1 - text)) == 0, "records differ beyond wall_seconds");
    free(text);
    free(again);
    free(later);

    // a failed run: status, error, no prompt, no sha
    TuneResult empty;
    memset(&empty, 0, sizeof empty);
    TuneProvenance early = test_provenance(0, 0);
    text = result_record_json(&p, &empty, "failed", "model: cannot open \"x\"", NULL, &early);
    j = text ? cJSON_Parse(text) : NULL;
    CHECK(j && strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(j, "status")), "failed") == 0 &&
          strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(j, "error")), "model: cannot open \"x\"") == 0 &&
          cJSON_GetArraySize(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "prompt"), "ids")) == 0 &&
          cJSON_IsNull(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "versions"), "model_sha256")),
          "failed record: %s", text ? text : "(null)");
    if (j) check_record_schema(j, 0, 0, "the failed record");
    cJSON_Delete(j);
    free(text);
    // failed after the model was loaded: the record says its vocabulary
    empty.vocab_size = 50304;
    TuneProvenance loaded = test_provenance(1, 0);
    text = result_record_json(&p, &empty, "failed", "examples need up to 200 positions", "00", &loaded);
    j = text ? cJSON_Parse(text) : NULL;
    CHECK(j && cJSON_GetObjectItem(j, "vocab_size") && cJSON_GetObjectItem(j, "vocab_size")->valueint == 50304,
          "failed record after loading: %s", text ? text : "(null)");
    if (j) check_record_schema(j, 0, 1, "the failed record after loading");
    cJSON_Delete(j);
    free(text);
    result_free(&r);
    CHECK(r.history == NULL && r.n_history == 0, "result_free");
    result_free(&r); // twice is fine
    point_free(&p);
}

// ----------------------------------------------------------------------------

int main(void) {
    make_files();
    test_defaults();
    test_bad_points();
    test_soft_and_empty();
    test_canonical();
    test_record();
    return test_finish();
}
