/*
 * tests/test_objective.c: one objective, one lambda, both tuners (issue 11).
 *
 * The README states: both tuners minimise J = w_task * T + w_interp * I, T the
 * mean cross-entropy (nats) of the label over the verbalizer logits, I the
 * prompt's log-PPL (nats/token); additive (1, lambda), convex (1 - lambda,
 * lambda). So at lambda (additive) one nat of log-PPL is worth lambda nats of
 * cross-entropy, in PEZ (its loss) and in RLPrompt (its reward is -J) alike.
 * Checked here through each method's own code path on the same fixed prompts
 * of a tiny random model (no tokenizer or data needed):
 *   - PEZ's loss (pez_loss_and_grad over the whole split) and RLPrompt's
 *     reward (rl_prompt_rewards from the evaluator's scores) give the same J
 *     and split it into the same T and I;
 *   - the exchange rate: with the same prompt scored by two scorer LMs (T
 *     fixed, I moved), J moves by w_interp per nat of I in both methods; and
 *     for two prompts A (better task term) and B (more fluent) both methods
 *     change their preference at the same lambda* = (T_B - T_A) / (I_A - I_B);
 *   - selection: objective_better's order (lower J, then lower log-PPL, ties
 *     keep the earlier).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/gpt2.h"
#include "tuners/pez_internal.h"
#include "tuners/rlprompt_internal.h"
#include "tuners/tuners.h"

#define TEST_NAME "test_objective"
#include "tests/testlib.h"

enum { N_EX = 8, L = 3, K = 2 };
static const int LABEL_IDS[K] = {262, 318};
static const int PROMPTS[3][L] = {{1500, 2700, 4242}, {11, 13, 11}, {40000, 7, 31337}};

typedef struct {
    GPT2Model m, m2;           // the task model (also a scorer), a second scorer
    float *p1, *p2;
    EncodedSplit split;
    Evaluator *eval;
    Scorer *scorer, *scorer2;
} Setup;

static void setup(Setup *s) {
    GPT2Config c = {.n_layer = 1, .n_head = 2, .n_embd = 16, .n_positions = 32, .vocab_size = 50257,
                    .layer_norm_epsilon = 1e-5f};
    Err err;
    s->p1 = random_model(&s->m, c, 0.3, 41);
    s->p2 = random_model(&s->m2, c, 0.3, 42);
    made_up_split(&s->split, N_EX, 2, 7);
    if (evaluator_new(&s->eval, &s->m, LABEL_IDS, K, 16, 16, &err) || scorer_new(&s->scorer, &s->m, 4, &err) ||
        scorer_new(&s->scorer2, &s->m2, 4, &err))
        die("setup: %s", err.msg);
}

static void teardown(Setup *s) {
    evaluator_free(s->eval);
    scorer_free(s->scorer);
    scorer_free(s->scorer2);
    encoded_split_free(&s->split);
    free(s->p1);
    free(s->p2);
    free(s->m.blocks_storage);
    free(s->m2.blocks_storage);
}

static void make_point(TunePoint *p, double lambda, Objective form) {
    memory_point(p, METHOD_PEZ, lambda, form, L, K);
    p->pez = (PezSettings){.steps = 1, .batch = N_EX, .eval_every = 1, .optimizer = PEZ_ADAFACTOR, .lr = 0.3,
                           .clip = 1.0};
}

/* J of a prompt as each method computes it with the given scorer model:
 * PEZ's loss over the whole split (and its T, I), and minus RLPrompt's reward. */
typedef struct {
    double pez_j, pez_task, pez_interp, rl_j, task, interp;
} Both;

static Both both_objectives(Setup *s, const TunePoint *p, const int *prompt, int second_scorer) {
    Both b;
    Err err;
    // the terms as the evaluator and the scorer give them
    EvalResult res;
    if (eval_prompts(s->eval, &s->split, prompt, 1, L, &res, NULL, &err) ||
        scorer_log_ppl(second_scorer ? s->scorer2 : s->scorer, prompt, 1, L, &b.interp, &err))
        die("%s", err.msg);
    b.task = res.loss;
    // PEZ: its loss over every example of the split
    TuneContext ctx;
    memset(&ctx, 0, sizeof ctx);
    ctx.point = p;
    ctx.model = &s->m;
    ctx.scorer_model = second_scorer ? &s->m2 : &s->m;
    ctx.n_classes = K;
    memcpy(ctx.label_ids, LABEL_IDS, sizeof LABEL_IDS);
    ctx.train = s->split;
    PezState st;
    if (pez_state_alloc(&st, &ctx, &err)) die("pez: %s", err.msg);
    int examples[N_EX];
    for (int i = 0; i < N_EX; i++) examples[i] = i;
    memcpy(st.ids, prompt, L * sizeof(int));
    PezLoss loss;
    if (pez_loss_and_grad(&st, &s->split, examples, &loss, &err)) die("pez: %s", err.msg);
    b.pez_j = loss.loss;
    b.pez_task = loss.task;
    b.pez_interp = loss.log_ppl;
    pez_state_free(&st);
    // RLPrompt: its reward from the same scores
    double w_task, w_interp, R;
    objective_weights(p, &w_task, &w_interp);
    rl_prompt_rewards(&R, &res, &b.interp, 1, w_task, w_interp, RL_REWARD_OBJECTIVE);
    b.rl_j = -R;
    return b;
}

static void test_same_objective(Setup *s) {
    const struct { double lambda; Objective form; } cases[] = {
        {0.25, OBJECTIVE_ADDITIVE}, {3.0, OBJECTIVE_ADDITIVE}, {0.4, OBJECTIVE_CONVEX}};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        TunePoint p;
        make_point(&p, cases[c].lambda, cases[c].form);
        double w_task, w_interp;
        objective_weights(&p, &w_task, &w_interp);
        for (int k = 0; k < 3; k++)
            for (int sc = 0; sc <= 1; sc++) {
                Both b = both_objectives(s, &p, PROMPTS[k], sc);
                double want = w_task * b.task + w_interp * b.interp;
                CHECK(close_to(b.pez_task, b.task, 1e-5) && close_to(b.pez_interp, b.interp, 1e-5),
                      "lambda %g prompt %d scorer %d: PEZ's terms %.9g %.9g, the evaluator's %.9g, the scorer's %.9g",
                      cases[c].lambda, k, sc, b.pez_task, b.pez_interp, b.task, b.interp);
                CHECK(close_to(b.pez_j, want, 1e-5) && close_to(b.rl_j, want, 1e-12),
                      "lambda %g prompt %d scorer %d: J PEZ %.9g, RLPrompt %.9g, want %.9g", cases[c].lambda, k, sc,
                      b.pez_j, b.rl_j, want);
            }
        // the exchange rate: T fixed, I moved by another scorer: J moves by w_interp per nat
        for (int k = 0; k < 3; k++) {
            Both a = both_objectives(s, &p, PROMPTS[k], 0), b = both_objectives(s, &p, PROMPTS[k], 1);
            double dI = b.interp - a.interp;
            CHECK(fabs(dI) > 0.05, "the two scorers agree on prompt %d (%g): the rate is not tested", k, dI);
            CHECK(close_to((b.pez_j - a.pez_j) / dI, w_interp, 1e-4) && close_to((b.rl_j - a.rl_j) / dI, w_interp, 1e-9),
                  "lambda %g prompt %d: J per nat of log-PPL: PEZ %.9g, RLPrompt %.9g, want %g", cases[c].lambda, k,
                  (b.pez_j - a.pez_j) / dI, (b.rl_j - a.rl_j) / dI, w_interp);
        }
    }
}

/* Two prompts, one better at the task and one more fluent: both methods
 * switch their preference at the same lambda*, where one nat of log-PPL is
 * worth lambda* nats of cross-entropy. */
static void test_break_even(Setup *s) {
    TunePoint p;
    make_point(&p, 1.0, OBJECTIVE_ADDITIVE);
    Both x = both_objectives(s, &p, PROMPTS[0], 0), y = both_objectives(s, &p, PROMPTS[2], 0);
    // A: the lower task term; B: the lower log-PPL (the construction needs them to differ so)
    Both A = x.task < y.task ? x : y, B = x.task < y.task ? y : x;
    const int *pa = x.task < y.task ? PROMPTS[0] : PROMPTS[2], *pb = x.task < y.task ? PROMPTS[2] : PROMPTS[0];
    if (!(B.interp < A.interp)) {
        CHECK(0, "test construction: the prompt with the lower task term is also the more fluent (T %g %g, I %g %g)",
              A.task, B.task, A.interp, B.interp);
        return;
    }
    double star = (B.task - A.task) / (A.interp - B.interp);
    printf("  break-even lambda* = %.6g: A (T %.4f, I %.3f), B (T %.4f, I %.3f)\n", star, A.task, A.interp, B.task,
           B.interp);
    for (int side = 0; side <= 1; side++) {
        make_point(&p, side ? 2.0 * star : 0.5 * star, OBJECTIVE_ADDITIVE);
        Both a = both_objectives(s, &p, pa, 0), b = both_objectives(s, &p, pb, 0);
        int pez_prefers_b = b.pez_j < a.pez_j, rl_prefers_b = b.rl_j < a.rl_j;
        CHECK(pez_prefers_b == side && rl_prefers_b == side,
              "lambda %g (%s lambda*): PEZ prefers %s, RLPrompt %s", p.lambda, side ? "above" : "below",
              pez_prefers_b ? "B" : "A", rl_prefers_b ? "B" : "A");
    }
}

static void test_selection_order(void) {
    CHECK(objective_better(1.0, 5.0, 2.0, 1.0), "a lower J wins whatever its log-PPL");
    CHECK(!objective_better(2.0, 1.0, 1.0, 5.0), "a higher J loses whatever its log-PPL");
    CHECK(objective_better(1.0, 4.0, 1.0, 5.0), "equal J: the lower log-PPL wins");
    CHECK(!objective_better(1.0, 5.0, 1.0, 5.0), "an exact tie keeps the earlier step");
    CHECK(objective_better(1.0, 5.0, INFINITY, INFINITY), "the first finite J wins over none");
    CHECK(!objective_better(NAN, 1.0, 3.0, 2.0) && !objective_better(INFINITY, 1.0, 3.0, 2.0), "non-finite J never wins");
}

int main(void) {
    Setup s;
    setup(&s);
    test_same_objective(&s);
    test_break_even(&s);
    test_selection_order();
    teardown(&s);
    return test_finish();
}
