// tuners/manual.c: a fixed, hand-written prompt as a point of its own, so that
// the baseline every tuner is compared with runs through the same evaluation
// and lands in the same records and frontier. The empty prompt "" is the
// template alone: no ids, log-PPL 0 (tuners.h, scorer_log_ppl).
#include "tuners/tuners.h"

int manual_prompt_ids(const TunePoint *p, GPT2Tokenizer *tok, int *ids, int *n, Err *err) {
    const char *text = p->manual_prompt;
    size_t len = 0;
    while (text[len]) len++;
    if (tokenizer_encode(tok, text, len, ids, TUNE_MAX_PROMPT, n, err)) // "": no ids, the template alone
        return err_fail(err, "point: \"prompt\" is longer than %d tokens", TUNE_MAX_PROMPT);
    return 0;
}

int manual_run(TuneContext *ctx, TuneResult *r, Err *err) {
    if (manual_prompt_ids(ctx->point, ctx->tok, r->prompt_ids, &r->prompt_length, err)) return -1;
    r->steps = 0;
    r->stop_reason = STOP_NO_STEPS;
    r->best_step = 0;
    return result_finish(ctx, r, NULL, err);
}
