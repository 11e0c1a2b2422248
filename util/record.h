/*
 * util/record.h: the result record's schema, the one definition of its keys.
 *
 * A result record is the JSON object `tune` prints for one point
 * (tuners/point.c, result_record_json, writes it). The sweep judges it, writes
 * failed ones of its own when tune gives none (sweep/child.c) and journals it;
 * the report reads it (results/report.c). All of them name the keys from here,
 * so that each key is spelt once. It is in util/ because results/ may not
 * depend on tuners/ (util <- model <- tuners <- sweep -> mpi, results).
 *
 * Each key below says its JSON type and meaning. "number" is a JSON number, or
 * null where the value is not finite (tune writes NaN and infinities as null);
 * "per split" is an object {"train", "dev", "test"} of one value per split.
 * The tables RECORD_*_KEYS list the keys of each object in the order tune
 * writes them, each with when it is there:
 *     RECORD_ALWAYS    in every record tune writes
 *     RECORD_IF_OK     only in a record of status "ok"
 *     RECORD_IF_MODEL  once tune has loaded the task model (every "ok" record,
 *                      and a "failed" one whose run failed after the loading)
 *     RECORD_IF_DATA   once tune has read the three splits (every "ok" record)
 * so a test can hold a written record against the schema. A failed record
 * that the sweep writes itself (tune crashed, hung, printed no record) has
 * point, status and error only; every failed record the sweep journals also
 * has REC_LOG, last (sweeps from issue 15 on). Records of older tunes lack what came later
 * (the issue-11 keys and vocab_size came with tune 2): readers take a missing
 * key as unknown.
 */
#ifndef UTIL_RECORD_H
#define UTIL_RECORD_H

// ----------------------------------------------------------------------------
// the top level

#define REC_POINT "point"                   // object: the point with every default filled in, keys sorted
                                            // (tuners/tuners.h); null when the sweep could not parse it
#define REC_STATUS "status"                 // string: REC_STATUS_OK or REC_STATUS_FAILED
#define REC_ERROR "error"                   // string: why the run failed (one line); null when ok
#define REC_PROMPT "prompt"                 // object (REC_PROMPT_*): the best prompt (PEZ and soft: the
                                            // projection of the chosen soft prompt onto tokens)
#define REC_ACCURACY "accuracy"             // per split, and test_text: accuracy of the prompt's ids (test:
                                            // its first max_test examples); soft: of the projection (the
                                            // soft prompt's own: faithfulness, history)
#define REC_BALANCED_ACCURACY "balanced_accuracy"   // per split: the mean of class_accuracy over the
                                                    // classes present
#define REC_CLASS_ACCURACY "class_accuracy"         // per split: array of numbers, each class's recall in
                                                    // verbalizer order; null for a class the split lacks
#define REC_PREDICTION_SHARE "prediction_share"     // per split: array of numbers, the share of the
                                                    // examples given each label
#define REC_COLLAPSED "collapsed"           // boolean: one label for 95% or more of the test examples
#define REC_TASK_LOSS "task_loss"           // per split: mean cross-entropy of the label over the
                                            // verbalizers' logits (nats)
#define REC_OBJECTIVE "objective"           // object (REC_OBJ_*): the run's objective, on dev, of what chose
                                            // the prompt (soft: the chosen soft prompt's)
#define REC_DEV_REWARD "dev_reward"         // number: RLPrompt's gap reward on dev (PEZ's prompts too)
#define REC_LOG_PPL "log_ppl"               // number: the prompt's mean negative log-likelihood under the
                                            // scorer (nats per token); 0 for no tokens (the empty prompt)
#define REC_PPL "ppl"                       // number: exp(log_ppl)
#define REC_DICT_SHARE "dict_share"         // number: the share of the prompt text's words in the dictionary
#define REC_DISTINCT_SHARE "distinct_share" // number: the share of distinct ids among the prompt's (none: 0)
#define REC_FAITHFULNESS "faithfulness"     // object (REC_FAITH_*): soft prompt against its projection
#define REC_STEPS "steps"                   // integer: the steps run
#define REC_STOP_REASON "stop_reason"       // string: why the steps stopped: "steps" (all of the budget ran),
                                            // "patience" (early stopping on dev), "none" (a manual prompt)
#define REC_BEST_STEP "best_step"           // integer: the step whose prompt was kept
#define REC_WALL_SECONDS "wall_seconds"     // number: the run's duration; with "run", what two runs of a
                                            // point may differ in (comparisons of records drop both)
#define REC_HISTORY "history"               // array of objects (REC_HIST_*), one per evaluation on dev
#define REC_VOCAB_SIZE "vocab_size"         // integer: V, the task model's vocabulary size (the report's
                                            // reference log-PPL is ln V)
#define REC_VERSIONS "versions"             // object (REC_VERSION_*): what made the record
/* What reproduces the run beyond its point (issue 15; tune 2 writes them since then: older
 * records lack them). The precision is the point's (REC_POINT "precision"), the model's
 * sha256 versions.model_sha256: neither is repeated here. */
#define REC_RUN "run"                       // object (REC_RUN_*): where and how it ran; differs between
                                            // runs of one point (host, command line): comparisons drop it
#define REC_DATA_FILES "data_files"         // object: per split (REC_TRAIN, REC_DEV, REC_TEST) an object
                                            // (REC_DATA_*) naming the file tune read by its contents
#define REC_MODEL "model"                   // object (REC_MODEL_*): the task model's shape, and whether it
                                            // is a random init
#define REC_LOG "log"                       // string: a failed attempt's log, its path relative to the
                                            // sweep's output directory ("logs/<id>.<attempt>.log",
                                            // sweep/sweep.h "Logs"); added by the sweep to the failed
                                            // records it journals, never written by tune

/* status */
#define REC_STATUS_OK "ok"
#define REC_STATUS_FAILED "failed"

/* prompt */
#define REC_PROMPT_IDS "ids"                // array of integers: its token ids ([] when there is none)
#define REC_PROMPT_TEXT "text"              // string: its decoded text (ill-formed UTF-8 as U+FFFD)
#define REC_PROMPT_TEXT_IDS "text_ids"      // array of integers: the text encoded again, alone
#define REC_PROMPT_ROUNDTRIP "roundtrip"    // boolean: every test example with the text pasted into the
                                            // template encodes back to the rows the tuner scored
#define REC_PROMPT_ROUNDTRIP_SHARE "roundtrip_share"   // number: the share of test examples that do
#define REC_PROMPT_TEXT_TRUNCATED "text_truncated"     // integer: pasted test examples cut at the front
                                                       // to fit the model's context

/* the keys of a per-split object (and of accuracy) */
#define REC_TRAIN "train"
#define REC_DEV "dev"
#define REC_TEST "test"
#define REC_TEST_TEXT "test_text"           // accuracy only: test accuracy of the text pasted into the
                                            // template and encoded whole, as a reader would use it

/* objective: J = w_task * task + w_interp * interp, what both tuners minimise and select by */
#define REC_OBJ_SPLIT "split"               // string: the split it is measured on (REC_DEV)
#define REC_OBJ_FORM "form"                 // string: "additive" (w = 1, lambda) or "convex" (1 - lambda,
                                            // lambda)
#define REC_OBJ_LAMBDA "lambda"             // number: the point's lambda
#define REC_OBJ_W_TASK "w_task"             // number
#define REC_OBJ_W_INTERP "w_interp"         // number
#define REC_OBJ_TASK "task"                 // number: the task term, dev cross-entropy (nats): task_loss.dev,
                                            // but for soft the soft prompt's (task_loss: its projection's)
#define REC_OBJ_INTERP "interp"             // number: the interpretability term, log_ppl
#define REC_OBJ_TOTAL "total"               // number: J

/* faithfulness (PEZ and soft, at the chosen step; discrete prompts, RLPrompt's and manual ones: both
 * accuracies the test accuracy, kl 0) */
#define REC_FAITH_ACC_CONTINUOUS "acc_continuous"   // number: test accuracy of the soft prompt
#define REC_FAITH_ACC_PROJECTED "acc_projected"     // number: test accuracy of its projection on tokens
#define REC_FAITH_KL "kl"                           // number: mean KL(continuous || projected) of the
                                                    // label distributions

/* an entry of history: the prompt as it was at that step */
#define REC_HIST_STEP "step"                // integer
#define REC_HIST_LOSS "loss"                // number: the training objective (RLPrompt: its SQL loss)
#define REC_HIST_DEV_ACC "dev_acc"          // number (soft: of the soft prompt, not its projection)
#define REC_HIST_DEV_TASK "dev_task"        // number: its task term on dev (soft: the soft prompt's)
#define REC_HIST_LOG_PPL "log_ppl"          // number (PEZ and soft: of the projection)
#define REC_HIST_DEV_OBJECTIVE "dev_objective"   // number: w_task dev_task + w_interp log_ppl
#define REC_HIST_TRAIN_REWARD "train_reward"     // number: minus the training objective at the step

/* versions */
#define REC_VERSION_TUNE "tune"             // string: tune's version (TUNE_VERSION)
#define REC_VERSION_MODEL_SHA256 "model_sha256"  // string: sha256 of the task model's weights; null when
                                                 // tune failed before reading them

/* run */
#define REC_RUN_CODE_VERSION "code_version"       // string: `git describe --always --dirty` of the build
                                                  // ("unknown" outside a checkout; util_code_version)
#define REC_RUN_HOST "host"                       // string: the host name
#define REC_RUN_COMMAND "command"                 // array of strings: tune's command line
#define REC_RUN_OPENBLAS_CORE "openblas_core"     // string: the OpenBLAS kernels in use (its core name)
#define REC_RUN_OPENBLAS_THREADS "openblas_threads"   // integer: OpenBLAS's threads
#define REC_RUN_OPENBLAS_CORETYPE "openblas_coretype" // string: $OPENBLAS_CORETYPE; null when unset

/* data_files: each split's */
#define REC_DATA_SHA256 "sha256"            // string: sha256 of the file's bytes
#define REC_DATA_EXAMPLES "examples"        // integer: the examples in the file
#define REC_DATA_SCORED "scored"            // integer, test only: those scored (the first max_test)

/* model */
#define REC_MODEL_N_LAYER "n_layer"         // integer
#define REC_MODEL_N_HEAD "n_head"           // integer
#define REC_MODEL_N_EMBD "n_embd"           // integer
#define REC_MODEL_N_POSITIONS "n_positions" // integer
#define REC_MODEL_RANDOM_INIT "random_init" // boolean: its weights are the ones `gpt2 init` wrote (the
                                            // checkpoint's init.json names their sha256, model/gpt2.h):
                                            // an untrained model; false when that is not known

/* The keys of the point (REC_POINT) that the sweep and the report read; the
 * point's whole schema is tuners/point.c's. */
#define REC_POINT_TASK "task"               // string: a built-in task or "custom"
#define REC_POINT_METHOD "method"           // string: "pez", "rlprompt", "soft" or "manual"
#define REC_POINT_PROMPT_LENGTH "prompt_length"   // integer; absent for a manual prompt
#define REC_POINT_LAMBDA "lambda"           // number
#define REC_POINT_SEED "seed"               // integer
#define REC_POINT_VERBALIZERS "verbalizers" // array of strings, one per class
#define REC_POINT_SPLIT "split"             // string: the few-shot split ("16-42") under data_dir; tune's
                                            // canonical point names the split's files under "data" instead
#define REC_POINT_DATA "data"               // {"train", "dev", "test"}: the split's files
#define REC_POINT_PROMPT "prompt"           // string: a manual prompt's text ("" the empty prompt)
#define REC_POINT_PRECISION "precision"     // string: "f32" or "bf16", the matmuls' arithmetic
#define REC_METHOD_MANUAL "manual"          // the method of manual prompts: the baselines

// ----------------------------------------------------------------------------
// the order and presence of the keys: X(KEY, WHEN)

enum { RECORD_ALWAYS, RECORD_IF_OK, RECORD_IF_MODEL, RECORD_IF_DATA };

#define RECORD_KEYS(X)                                                                                   \
    X(REC_POINT, RECORD_ALWAYS) X(REC_STATUS, RECORD_ALWAYS) X(REC_ERROR, RECORD_ALWAYS)                  \
    X(REC_PROMPT, RECORD_ALWAYS) X(REC_ACCURACY, RECORD_ALWAYS) X(REC_BALANCED_ACCURACY, RECORD_IF_OK)    \
    X(REC_CLASS_ACCURACY, RECORD_IF_OK) X(REC_PREDICTION_SHARE, RECORD_IF_OK) X(REC_COLLAPSED, RECORD_IF_OK) \
    X(REC_TASK_LOSS, RECORD_IF_OK) X(REC_OBJECTIVE, RECORD_IF_OK) X(REC_DEV_REWARD, RECORD_ALWAYS)       \
    X(REC_LOG_PPL, RECORD_ALWAYS) X(REC_PPL, RECORD_ALWAYS) X(REC_DICT_SHARE, RECORD_ALWAYS)             \
    X(REC_DISTINCT_SHARE, RECORD_IF_OK) X(REC_FAITHFULNESS, RECORD_ALWAYS) X(REC_STEPS, RECORD_ALWAYS)    \
    X(REC_STOP_REASON, RECORD_IF_OK) X(REC_BEST_STEP, RECORD_ALWAYS) X(REC_WALL_SECONDS, RECORD_ALWAYS)           \
    X(REC_HISTORY, RECORD_ALWAYS) X(REC_VOCAB_SIZE, RECORD_IF_MODEL) X(REC_VERSIONS, RECORD_ALWAYS)           \
    X(REC_RUN, RECORD_ALWAYS) X(REC_DATA_FILES, RECORD_IF_DATA) X(REC_MODEL, RECORD_IF_MODEL)

#define RECORD_PROMPT_KEYS(X)                                                                            \
    X(REC_PROMPT_IDS, RECORD_ALWAYS) X(REC_PROMPT_TEXT, RECORD_ALWAYS) X(REC_PROMPT_TEXT_IDS, RECORD_IF_OK) \
    X(REC_PROMPT_ROUNDTRIP, RECORD_IF_OK) X(REC_PROMPT_ROUNDTRIP_SHARE, RECORD_IF_OK)                      \
    X(REC_PROMPT_TEXT_TRUNCATED, RECORD_IF_OK)

#define RECORD_ACCURACY_KEYS(X)                                                                          \
    X(REC_TRAIN, RECORD_ALWAYS) X(REC_DEV, RECORD_ALWAYS) X(REC_TEST, RECORD_ALWAYS) X(REC_TEST_TEXT, RECORD_IF_OK)

/* balanced_accuracy, class_accuracy, prediction_share and task_loss */
#define RECORD_SPLIT_KEYS(X) X(REC_TRAIN, RECORD_ALWAYS) X(REC_DEV, RECORD_ALWAYS) X(REC_TEST, RECORD_ALWAYS)

#define RECORD_OBJECTIVE_KEYS(X)                                                                         \
    X(REC_OBJ_SPLIT, RECORD_ALWAYS) X(REC_OBJ_FORM, RECORD_ALWAYS) X(REC_OBJ_LAMBDA, RECORD_ALWAYS)       \
    X(REC_OBJ_W_TASK, RECORD_ALWAYS) X(REC_OBJ_W_INTERP, RECORD_ALWAYS) X(REC_OBJ_TASK, RECORD_ALWAYS)    \
    X(REC_OBJ_INTERP, RECORD_ALWAYS) X(REC_OBJ_TOTAL, RECORD_ALWAYS)

#define RECORD_FAITHFULNESS_KEYS(X)                                                                      \
    X(REC_FAITH_ACC_CONTINUOUS, RECORD_ALWAYS) X(REC_FAITH_ACC_PROJECTED, RECORD_ALWAYS) X(REC_FAITH_KL, RECORD_ALWAYS)

#define RECORD_HISTORY_KEYS(X)                                                                           \
    X(REC_HIST_STEP, RECORD_ALWAYS) X(REC_HIST_LOSS, RECORD_ALWAYS) X(REC_HIST_DEV_ACC, RECORD_ALWAYS)    \
    X(REC_HIST_DEV_TASK, RECORD_ALWAYS) X(REC_HIST_LOG_PPL, RECORD_ALWAYS)                               \
    X(REC_HIST_DEV_OBJECTIVE, RECORD_ALWAYS) X(REC_HIST_TRAIN_REWARD, RECORD_ALWAYS)

#define RECORD_VERSIONS_KEYS(X) X(REC_VERSION_TUNE, RECORD_ALWAYS) X(REC_VERSION_MODEL_SHA256, RECORD_ALWAYS)

#define RECORD_RUN_KEYS(X)                                                                               \
    X(REC_RUN_CODE_VERSION, RECORD_ALWAYS) X(REC_RUN_HOST, RECORD_ALWAYS) X(REC_RUN_COMMAND, RECORD_ALWAYS) \
    X(REC_RUN_OPENBLAS_CORE, RECORD_ALWAYS) X(REC_RUN_OPENBLAS_THREADS, RECORD_ALWAYS)                    \
    X(REC_RUN_OPENBLAS_CORETYPE, RECORD_ALWAYS)

/* each split's object of data_files; scored in test's only */
#define RECORD_DATA_KEYS(X) X(REC_DATA_SHA256, RECORD_ALWAYS) X(REC_DATA_EXAMPLES, RECORD_ALWAYS)

#define RECORD_MODEL_KEYS(X)                                                                             \
    X(REC_MODEL_N_LAYER, RECORD_ALWAYS) X(REC_MODEL_N_HEAD, RECORD_ALWAYS) X(REC_MODEL_N_EMBD, RECORD_ALWAYS) \
    X(REC_MODEL_N_POSITIONS, RECORD_ALWAYS) X(REC_MODEL_RANDOM_INIT, RECORD_ALWAYS)

#endif
