// results/svg.c: the frontier plot, one panel per task: test accuracy (y) against the
// prompt's log-PPL (x), one colour per method, 95% CI error bars both ways, each method's
// frontier as a step line and the frontier across methods dashed, λ labels placed where
// they overlap nothing. The frontiers are the ones chosen on dev, drawn at the test means
// they report (results.h); configurations with a collapsed seed carry an ×. Baselines
// (manual prompts, issue 13) are grey diamonds labelled with their prompt, outside the
// methods' colours and step lines. Plain SVG 1.1 text, no scripts, no external fonts: any
// browser.
// What keeps it from misleading (issue 15): under each panel's title, the model (sha256
// prefix, shape) and the data (splits, sizes, test examples scored) the numbers come from; a
// random-init model is said in red and across the plot; when prompt lengths vary, the marker's
// shape says the length; an error bar cut at the plot's edge ends in an arrow; a point of fewer
// than 3 runs is drawn faded with its n in its label; one whose runs all gave the same result
// (no spread, so no CI) carries a dashed ring.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "results/results.h"

// the panel's geometry in px: plot area, then the legend to its right
enum { PANEL_W = 980, PANEL_H = 660, PLOT_L = 90, PLOT_T = 124, PLOT_W = 600, PLOT_H = 450 };
#define HEAD_Y 26      // the panel title's baseline; the heading's lines follow every HEAD_STEP px
#define HEAD_STEP 16
#define FEW_RUNS 3     // fewer runs than this: the point is flagged (a CI of 1 or 2 runs says little)
#define FEW_OPACITY "0.45"
#define RANDOM_INIT_COLOUR "#c00"
#define LEGEND_X (PLOT_L + PLOT_W + 28)
#define LABEL_FONT 11.0
#define MARKER_R 5.0
/* Obstacles per point: 2 step-line segments on each of 2 frontiers, 2 error bars, the
 * marker, its label; plus the reference lines' 2 labels per panel. */
#define BOXES_PER_POINT 8

static const char *const COLOURS[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e",
                                      "#9467bd", "#8c564b", "#e377c2", "#17becf"};
#define N_COLOURS ((int)(sizeof COLOURS / sizeof COLOURS[0]))

/* Baselines: one dark grey, no method colour (so that none can be taken for a tuned method). */
#define BASELINE_COLOUR "#333"
#define BASELINE_FILL "#d9d9d9"
#define BASELINE_TEXT_CHARS 24   // a baseline's label: its prompt cut to this many characters

/* Text content or attribute value: valid UTF-8, XML-escaped; control characters (not
 * allowed in XML 1.0) dropped. */
static void svg_text(ResultsBuf *b, const char *s) {
    const unsigned char *p = (const unsigned char *)(s ? s : "");
    size_t n = strlen((const char *)p);
    for (size_t i = 0; i < n;) {
        size_t len = results_utf8_len(p + i, n - i);
        if (len == 0) { results_buf_cat(b, "\xEF\xBF\xBD"); i++; continue; }
        unsigned char c = p[i];
        if (c == '&') results_buf_cat(b, "&amp;");
        else if (c == '<') results_buf_cat(b, "&lt;");
        else if (c == '>') results_buf_cat(b, "&gt;");
        else if (c == '"') results_buf_cat(b, "&quot;");
        else if (c == '\'') results_buf_cat(b, "&apos;");
        else if (c >= 0x20 && c != 0x7F) results_buf_put(b, (const char *)p + i, len);
        i += len;
    }
}

/* Width of a label in px, roughly: sans-serif digits and lower case average ~0.58 em. */
static double text_width(const char *s, double font) {
    int chars = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) chars += (*p & 0xC0) != 0x80;
    return chars * 0.58 * font;
}

// ----------------------------------------------------------------------------
// axes

typedef struct {
    double lo, hi, step;
    int decimals;
} Axis;

/* Limits snapped to a 1-2-5 step giving about 5 intervals over [lo, hi]. */
static Axis nice_axis(double lo, double hi) {
    Axis a;
    if (!isfinite(hi - lo)) lo = -1, hi = 1;   // garbage values (1e308): an axis anyway, they fall off it
    if (!(hi - lo > 1e-12 * (fabs(lo) + fabs(hi)) && hi - lo > 1e-300)) {   // one value: a window around it
        double mid = 0.5 * (lo + hi), half = fabs(mid) > 0 ? 0.02 * fabs(mid) : 0.5;
        lo = mid - half;
        hi = mid + half;
    }
    double pad = 0.04 * (hi - lo);
    lo -= pad;
    hi += pad;
    double raw = (hi - lo) / 5, mag = pow(10, floor(log10(raw))), f = raw / mag;
    a.step = (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * mag;
    a.lo = floor(lo / a.step) * a.step;
    a.hi = ceil(hi / a.step) * a.step;
    if (!(isfinite(a.lo) && isfinite(a.hi) && a.hi > a.lo)) a.lo = -1, a.hi = 1, a.step = 0.5;
    int d = (int)-floor(log10(a.step) + 1e-9);
    a.decimals = d > 0 && d < 20 ? d : 0;
    return a;
}

static double sx(const Axis *x, double v) { return PLOT_L + (v - x->lo) / (x->hi - x->lo) * PLOT_W; }
static double sy(const Axis *y, double v) { return PLOT_T + PLOT_H - (v - y->lo) / (y->hi - y->lo) * PLOT_H; }

static void axes(ResultsBuf *b, const Axis *x, const Axis *y) {
    results_buf_printf(b, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"#fafafa\" stroke=\"none\"/>\n",
                       PLOT_L, PLOT_T, PLOT_W, PLOT_H);
    double fx = round((x->hi - x->lo) / x->step), fy = round((y->hi - y->lo) / y->step);
    int nx = fx >= 1 && fx <= 50 ? (int)fx : 1, ny = fy >= 1 && fy <= 50 ? (int)fy : 1;   // 5 to 12, by construction
    for (int i = 0; i <= nx; i++) {
        double v = x->lo + i * x->step, px = sx(x, v);
        results_buf_printf(b, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#e3e3e3\"/>\n", px,
                           PLOT_T, px, PLOT_T + PLOT_H);
        results_buf_printf(b, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#444\"/>\n", px,
                           PLOT_T + PLOT_H, px, PLOT_T + PLOT_H + 5);
        results_buf_printf(b, "<text x=\"%.1f\" y=\"%d\" text-anchor=\"middle\" font-size=\"12\">%.*f</text>\n", px,
                           PLOT_T + PLOT_H + 19, x->decimals, v == 0 ? 0.0 : v);
    }
    for (int i = 0; i <= ny; i++) {
        double v = y->lo + i * y->step, py = sy(y, v);
        results_buf_printf(b, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#e3e3e3\"/>\n", PLOT_L, py,
                           PLOT_L + PLOT_W, py);
        results_buf_printf(b, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#444\"/>\n", PLOT_L - 5, py,
                           PLOT_L, py);
        results_buf_printf(b, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"end\" font-size=\"12\">%.*f</text>\n",
                           PLOT_L - 8, py + 4, y->decimals, v == 0 ? 0.0 : v);
    }
    results_buf_printf(b, "<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" stroke=\"#444\"/>\n",
                       PLOT_L, PLOT_T, PLOT_W, PLOT_H);
    results_buf_printf(b, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" font-size=\"13\">"
                          "log-PPL of the prompt under the scorer LM (nats/token; lower = more fluent)</text>\n",
                       PLOT_L + PLOT_W / 2, PLOT_T + PLOT_H + 42);
    results_buf_printf(b, "<text transform=\"translate(%d %d) rotate(-90)\" text-anchor=\"middle\" font-size=\"13\">"
                          "test accuracy</text>\n", PLOT_L - 58, PLOT_T + PLOT_H / 2);
}

// ----------------------------------------------------------------------------
// what labels must not cover: boxes around markers, lines and text

typedef struct {
    double x0, y0, x1, y1;
} Box;

static int overlaps(const Box *a, const Box *b) { return a->x0 < b->x1 && b->x0 < a->x1 && a->y0 < b->y1 && b->y0 < a->y1; }

/* A box around a line from (x0, y0) to (x1, y1), horizontal or vertical, pad px each side. */
static Box line_box(double x0, double y0, double x1, double y1, double pad) {
    return (Box){fmin(x0, x1) - pad, fmin(y0, y1) - pad, fmax(x0, x1) + pad, fmax(y0, y1) + pad};
}

/* Distance from a point to a box (0 inside it). */
static double box_distance(const Box *b, double x, double y) {
    double dx = fmax(fmax(b->x0 - x, x - b->x1), 0), dy = fmax(fmax(b->y0 - y, y - b->y1), 0);
    return sqrt(dx * dx + dy * dy);
}

/* One error bar, horizontal (ex > 0: log-PPL +- ex) or vertical (ey > 0: accuracy +- ey), around
 * the point (lp, acc), cut at the axes' limits; an end that was cut gets no cap, so the reader
 * sees that the interval goes on. Its box joins the obstacles of the labels. */
/* The arrowhead of a bar cut at the plot's edge, its tip at (x, y) pointing (dx, dy) (a unit
 * step along an axis): the interval goes on beyond the plot. */
static void cut_arrow(ResultsBuf *b, double x, double y, int dx, int dy, const char *colour) {
    double l = 7, w = 3.5;   // length and half-width in px
    results_buf_printf(b, "<path class=\"cut\" d=\"M%.1f %.1f L%.1f %.1f L%.1f %.1f Z\" fill=\"%s\" fill-opacity=\"0.8\"/>\n",
                       x, y, x - dx * l - dy * w, y - dy * l - dx * w, x - dx * l + dy * w, y - dy * l + dx * w, colour);
}

/* One error bar, horizontal (ex > 0: log-PPL +- ex) or vertical (ey > 0: accuracy +- ey), around
 * the point (lp, acc), cut at the axes' limits; an end that was cut gets an arrowhead instead of
 * its cap, so the reader sees that the interval goes on. Its box joins the obstacles of the
 * labels. Returns the ends cut. */
static int error_bar(ResultsBuf *b, const Axis *x, const Axis *y, double lp, double acc, double ex, double ey,
                     const char *colour, Box *boxes, int *n_boxes) {
    double lo = ex > 0 ? lp - ex : acc - ey, hi = ex > 0 ? lp + ex : acc + ey;
    const Axis *a = ex > 0 ? x : y;
    int cut_lo = lo < a->lo, cut_hi = hi > a->hi;
    lo = fmax(lo, a->lo), hi = fmin(hi, a->hi);
    double x0, y0, x1, y1;   // the ends: lo, hi
    if (ex > 0) {
        x0 = sx(x, lo), x1 = sx(x, hi), y0 = y1 = sy(y, acc);
        results_buf_printf(b, "<path d=\"M%.1f %.1f H%.1f", x0, y0, x1);
        if (!cut_lo) results_buf_printf(b, " M%.1f %.1f V%.1f", x0, y0 - 3, y0 + 3);
        if (!cut_hi) results_buf_printf(b, " M%.1f %.1f V%.1f", x1, y0 - 3, y0 + 3);
        boxes[(*n_boxes)++] = line_box(x0, y0, x1, y0, 3);
    } else {
        x0 = x1 = sx(x, lp), y0 = sy(y, lo), y1 = sy(y, hi);
        results_buf_printf(b, "<path d=\"M%.1f %.1f V%.1f", x0, y1, y0);
        if (!cut_hi) results_buf_printf(b, " M%.1f %.1f H%.1f", x0 - 3, y1, x0 + 3);
        if (!cut_lo) results_buf_printf(b, " M%.1f %.1f H%.1f", x0 - 3, y0, x0 + 3);
        boxes[(*n_boxes)++] = line_box(x0, y1, x0, y0, 3);
    }
    results_buf_printf(b, "\" stroke=\"%s\" stroke-opacity=\"0.6\" fill=\"none\"/>\n", colour);
    // lo is left (x) or down (y: larger pixel y); hi right or up
    if (cut_lo) cut_arrow(b, x0, y0, ex > 0 ? -1 : 0, ex > 0 ? 0 : 1, colour);
    if (cut_hi) cut_arrow(b, x1, y1, ex > 0 ? 1 : 0, ex > 0 ? 0 : -1, colour);
    return cut_lo + cut_hi;
}

// ----------------------------------------------------------------------------
// step lines: the best test accuracy among the dev-chosen points at a log-PPL at most x

typedef struct {
    double lp, acc;
} Corner;

static int cmp_corner(const void *pa, const void *pb) {
    const Corner *a = pa, *b = pb;
    if (a->lp != b->lp) return a->lp < b->lp ? -1 : 1;
    return (a->acc > b->acc) - (a->acc < b->acc);
}

static void step_line(ResultsBuf *b, const ResultsPlotPanel *pn, int method, int all, Corner *c, const Axis *x,
                      const Axis *y, const char *style, Box *obst, int *n_obst) {
    int n = 0;
    for (int i = 0; i < pn->n_points; i++) {
        const ResultsPlotPoint *p = &pn->points[i];
        if (all ? p->on_front_all : p->on_front && p->method == method) c[n++] = (Corner){p->log_ppl, p->acc};
    }
    if (n == 0) return;
    qsort(c, (size_t)n, sizeof *c, cmp_corner);
    // chosen on dev, a point may lie below an earlier one at test means: the staircase keeps
    // the corners that raise the best accuracy so far
    int kept = 1;
    for (int i = 1; i < n; i++)
        if (c[i].acc > c[kept - 1].acc) c[kept++] = c[i];
    n = kept;
    results_buf_printf(b, "<path d=\"M%.1f %.1f", sx(x, c[0].lp), sy(y, c[0].acc));
    for (int i = 1; i < n; i++) results_buf_printf(b, " H%.1f V%.1f", sx(x, c[i].lp), sy(y, c[i].acc));
    results_buf_printf(b, " H%d\" fill=\"none\" %s/>\n", PLOT_L + PLOT_W, style);
    for (int i = 0; i < n; i++) {
        double x0 = sx(x, c[i].lp), y0 = sy(y, c[i].acc), x1 = i + 1 < n ? sx(x, c[i + 1].lp) : PLOT_L + PLOT_W;
        obst[(*n_obst)++] = line_box(x0, y0, x1, y0, 1.5);
        if (i + 1 < n) obst[(*n_obst)++] = line_box(x1, y0, x1, sy(y, c[i + 1].acc), 1.5);
    }
}

// ----------------------------------------------------------------------------
// the mark of a configuration with a collapsed seed

/* The word for a point's runs: "seed" while they are its seeds, else "run". */
static const char *run_word(const ResultsPlot *plot) { return plot->replicates ? "run" : "seed"; }

/* An × over the marker at (cx, cy), reaching past its edge: white under the method's colour,
 * so that it shows on a filled marker too. n_collapsed of n_runs say so in its tooltip (none
 * for the legend's sample: n_collapsed < 0). */
static void collapsed_mark(ResultsBuf *b, double cx, double cy, const char *colour, int n_collapsed, int n_runs,
                           const char *word) {
    double d = MARKER_R + 2;
    results_buf_cat(b, "<g class=\"collapsed\">");
    if (n_collapsed >= 0)
        results_buf_printf(b, "<title>collapsed: %d of %d %s%s predict one label for \xe2\x89\xa5 95%% of test</title>",
                           n_collapsed, n_runs, word, n_runs == 1 ? "" : "s");
    for (int k = 0; k < 2; k++)
        results_buf_printf(b, "<path d=\"M%.1f %.1f L%.1f %.1f M%.1f %.1f L%.1f %.1f\" stroke=\"%s\" stroke-width=\"%s\" "
                              "fill=\"none\"/>", cx - d, cy - d, cx + d, cy + d, cx - d, cy + d, cx + d, cy - d,
                           k ? colour : "#fff", k ? "1.8" : "4");
    results_buf_cat(b, "</g>\n");
}

// ----------------------------------------------------------------------------
// labels

typedef struct {
    double dx, dy;
    const char *anchor;   // start, end, middle
    int leader;           // far enough to need a line to its marker
} Spot;

/* Where a label may go around its marker, nearest first; dy is the baseline's offset. */
static const Spot SPOTS[] = {
    {8, 4, "start", 0},     {-8, 4, "end", 0},      {0, -9, "middle", 0},   {0, 17, "middle", 0},
    {6, -7, "start", 0},    {6, 15, "start", 0},    {-6, -7, "end", 0},     {-6, 15, "end", 0},
    {0, -21, "middle", 0},  {0, 29, "middle", 0},   {18, -14, "start", 0},  {18, 22, "start", 0},
    {-18, -14, "end", 0},   {-18, 22, "end", 0},    {30, -26, "start", 1},  {30, 34, "start", 1},
    {-30, -26, "end", 1},   {-30, 34, "end", 1},    {0, -40, "middle", 1},  {0, 48, "middle", 1},
    {46, 4, "start", 1},    {-46, 4, "end", 1},     {44, -44, "start", 1},  {-44, -44, "end", 1},
    {44, 52, "start", 1},   {-44, 52, "end", 1},
};
#define N_SPOTS ((int)(sizeof SPOTS / sizeof SPOTS[0]))

static Box label_box(double cx, double cy, const Spot *s, double w) {
    double x = cx + s->dx, base = cy + s->dy;
    double x0 = s->anchor[0] == 's' ? x : s->anchor[0] == 'e' ? x - w : x - w / 2;
    return (Box){x0 - 1, base - LABEL_FONT * 0.8, x0 + w + 1, base + LABEL_FONT * 0.25};
}

static void format_lambda(char *out, size_t cap, double lambda) {
    if (isfinite(lambda)) snprintf(out, cap, "%g", lambda);
    else snprintf(out, cap, "?");
}

#define LABEL_CAP 160

static void label_cat(char *label, const char *s) {
    size_t used = strlen(label), n = strlen(s);
    if (used + n < LABEL_CAP) memcpy(label + used, s, n + 1);
}

/* A point of fewer than FEW_RUNS runs says its n in its label: " (n=2)". */
static void few_runs_note(char *label, const ResultsPlotPoint *p) {
    if (p->n_runs >= FEW_RUNS) return;
    char part[24];
    snprintf(part, sizeof part, " (n=%d)", p->n_runs);
    label_cat(label, part);
}

/* A baseline's label: its prompt in quotes, cut to BASELINE_TEXT_CHARS characters, line
 * breaks and tabs as spaces; "(empty prompt)" for the empty one. */
static void baseline_label(char *label, const char *text) {
    label[0] = '\0';
    if (!text[0]) {
        label_cat(label, "(empty prompt)");
        return;
    }
    ResultsBuf cut = {0};
    results_buf_cat(&cut, "\xe2\x80\x9c");
    results_buf_cut(&cut, text, BASELINE_TEXT_CHARS);
    results_buf_cat(&cut, "\xe2\x80\x9d");
    for (char *c = cut.s; c && *c; c++)
        if (*c == '\n' || *c == '\r' || *c == '\t') *c = ' ';
    if (cut.s) label_cat(label, cut.s);
    results_buf_free(&cut);
}

/* The label of the points hosted by point h (host[k] == h: drawn on the same pixel, same
 * method): "λ=0.1", "λ=0, 1", with lengths "λ=0.1 L5", "λ=0 (L3, L5)", "λ=0, 1 (L5)",
 * else "λ=0 L3; λ=1 L5"; then the configuration keys beyond them ("pez.lr=0.3"). A baseline's
 * is its prompt. */
static void make_label(char *label, const ResultsPlotPanel *pn, const int *host, int n, int h, int show_length) {
    const ResultsPlotPoint *p = &pn->points[h];
    if (p->baseline) {
        baseline_label(label, p->baseline);
        if (p->detail && p->detail[0]) label_cat(label, " "), label_cat(label, p->detail);
        few_runs_note(label, p);
        return;
    }
    int same_lambda = 1, same_length = 1, members = 0;
    for (int k = h; k < n; k++) {
        if (host[k] != h) continue;
        members++;
        same_lambda &= pn->points[k].lambda == p->lambda;
        same_length &= pn->points[k].prompt_length == p->prompt_length;
    }
    char part[48], lam[32];
    label[0] = '\0';
    label_cat(label, "\xce\xbb=");
    int first = 1;
    for (int k = h; k < n; k++) {
        if (host[k] != h) continue;
        format_lambda(lam, sizeof lam, pn->points[k].lambda);
        if (!show_length || same_length) {
            snprintf(part, sizeof part, "%s%s", first ? "" : ", ", lam);
        } else if (same_lambda) {
            if (first) snprintf(part, sizeof part, "%s (L%d", lam, pn->points[k].prompt_length);
            else snprintf(part, sizeof part, ", L%d", pn->points[k].prompt_length);
        } else {
            snprintf(part, sizeof part, "%s%s L%d", first ? "" : "; \xce\xbb=", lam, pn->points[k].prompt_length);
        }
        label_cat(label, part);
        first = 0;
    }
    if (show_length && same_length) {
        snprintf(part, sizeof part, members > 1 ? " (L%d)" : " L%d", p->prompt_length);
        label_cat(label, part);
    } else if (show_length && same_lambda) {
        label_cat(label, ")");
    }
    if (p->detail && p->detail[0]) label_cat(label, " "), label_cat(label, p->detail);
    few_runs_note(label, p);
}

/* Orders the labels: frontier points first (they matter most), then left to right. */
typedef struct {
    const ResultsPlotPoint *p;
    int i;
} Ranked;

static int cmp_ranked(const void *pa, const void *pb) {
    const Ranked *a = pa, *b = pb;
    int ra = 2 * a->p->on_front_all + a->p->on_front, rb = 2 * b->p->on_front_all + b->p->on_front;
    if (ra != rb) return rb - ra;
    if (a->p->log_ppl != b->p->log_ppl) return a->p->log_ppl < b->p->log_ppl ? -1 : 1;
    return a->i - b->i;
}

// ----------------------------------------------------------------------------
// one panel, drawn in layers: heading, axes, reference lines, frontiers, error bars,
// markers, then the labels (placed where they cover none of those) and the legend

typedef struct {
    Corner *corners;    // (n) step line scratch
    Box *boxes;         // (BOXES_PER_POINT n) what labels must not cover: lines, bars, markers, labels
    int n_boxes;        // of them, in use
    Ranked *ranked;     // (n)
    char (*labels)[LABEL_CAP];   // (n) label text; "" for a point whose label merged into another's
    int *host;          // (n) the point whose label speaks for this one (itself, or an earlier one)
    double *px, *py;    // (n) marker centres
    const char **colours;          // per method: its colour (baselines have none: NULL)
    int *lengths, n_lengths;       // the tuned points' distinct prompt lengths, ascending: marker shapes
    int n_cut, n_few, n_identical; // in the panel: bar ends cut, points of few runs, of identical runs
    int n_refined;                 // points whose λ an adaptive sweep's refinement added
} Scratch;

/* Marker shapes, one per prompt length (in the order of the lengths, cycling): the diamond is
 * the baselines'. */
enum { SHAPE_CIRCLE, SHAPE_SQUARE, SHAPE_UP, SHAPE_DOWN, SHAPE_HEXAGON, N_SHAPES };

static int point_shape(const ResultsPlot *plot, const Scratch *s, const ResultsPlotPoint *p) {
    if (!plot->show_length) return SHAPE_CIRCLE;
    for (int k = 0; k < s->n_lengths; k++)
        if (s->lengths[k] == p->prompt_length) return k % N_SHAPES;
    return SHAPE_CIRCLE;
}

/* A marker of a shape at (cx, cy), about as large as a circle of radius r; attrs: its fill,
 * stroke and opacity, as attributes. */
static void shape_marker(ResultsBuf *b, int shape, double cx, double cy, double r, const char *attrs) {
    if (shape == SHAPE_CIRCLE) {
        results_buf_printf(b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"%.1f\" %s/>\n", cx, cy, r, attrs);
    } else if (shape == SHAPE_SQUARE) {
        double h = r * 0.9;
        results_buf_printf(b, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" %s/>\n", cx - h, cy - h, 2 * h, 2 * h,
                           attrs);
    } else if (shape == SHAPE_UP || shape == SHAPE_DOWN) {
        double d = shape == SHAPE_UP ? 1 : -1, h = r * 1.25;
        results_buf_printf(b, "<path d=\"M%.1f %.1f L%.1f %.1f L%.1f %.1f Z\" %s/>\n", cx, cy - d * h, cx + h * 0.95,
                           cy + d * h * 0.7, cx - h * 0.95, cy + d * h * 0.7, attrs);
    } else {
        results_buf_cat(b, "<path d=\"");
        for (int k = 0; k < 6; k++)
            results_buf_printf(b, "%c%.1f %.1f ", k ? 'L' : 'M', cx + 1.1 * r * cos(k * M_PI / 3), cy + 1.1 * r * sin(k * M_PI / 3));
        results_buf_printf(b, "Z\" %s/>\n", attrs);
    }
}

/* A point's colour: its method's, or the baselines' grey. */
static const char *point_colour(const Scratch *s, const ResultsPlotPoint *p) {
    return p->baseline || !s->colours[p->method] ? BASELINE_COLOUR : s->colours[p->method];
}

/* What the markers show of collapsed seeds, for the legend. */
typedef struct {
    int runs, points;   // collapsed runs, and the configurations they belong to
    int known;          // some point says (records before tune 2 do not)
} Collapses;

/* Opens the panel's group at `top` and writes its title and what it shows. */
/* Whether the panel's runs are on a random-init model: all of them (2), some (1), none (0). */
static int random_init_of(const ResultsPlotPanel *pn) {
    return pn->n_random_init <= 0 ? 0 : pn->n_random_init >= pn->n_runs_all ? 2 : 1;
}

static void panel_heading(ResultsBuf *b, const ResultsPlot *plot, const ResultsPlotPanel *pn, double top) {
    results_buf_printf(b, "<g transform=\"translate(0 %.0f)\">\n", top);
    int y = HEAD_Y;
    results_buf_printf(b, "<text x=\"%d\" y=\"%d\" font-size=\"17\" font-weight=\"bold\">", PLOT_L, y);
    if (plot->name) {   // the sweep's name, then the task
        svg_text(b, plot->name);
        results_buf_cat(b, " \xe2\x80\x94 ");
    }
    svg_text(b, pn->title);
    results_buf_cat(b, "</text>\n");
    // what the numbers come from: the model (and whether it learned anything), the data
    y += HEAD_STEP + 2;
    int ri = random_init_of(pn);
    if (ri) {   // a line of its own, in red, before anything else is read
        results_buf_printf(b, "<text x=\"%d\" y=\"%d\" font-size=\"12\" font-weight=\"bold\" fill=\"%s\">", PLOT_L, y,
                           RANDOM_INIT_COLOUR);
        if (ri == 2) results_buf_cat(b, "RANDOM-INIT MODEL (untrained, gpt2 init): these accuracies show no method's skill");
        else results_buf_printf(b, "%d of %d runs on a RANDOM-INIT model (untrained, gpt2 init)", pn->n_random_init, pn->n_runs_all);
        results_buf_cat(b, "</text>\n");
        y += HEAD_STEP;
    }
    results_buf_printf(b, "<text x=\"%d\" y=\"%d\" font-size=\"12\" fill=\"#555\">", PLOT_L, y);
    svg_text(b, pn->model_line ? pn->model_line : "model: unknown");
    results_buf_cat(b, "</text>\n");
    y += HEAD_STEP;
    results_buf_printf(b, "<text x=\"%d\" y=\"%d\" font-size=\"12\" fill=\"#555\">", PLOT_L, y);
    svg_text(b, pn->data_line ? pn->data_line : "data: unknown");
    results_buf_cat(b, "</text>\n");
    y += HEAD_STEP;
    results_buf_printf(b, "<text x=\"%d\" y=\"%d\" font-size=\"12\" fill=\"#555\">"
                          "test accuracy (maximise) vs log-PPL (minimise); mean over ", PLOT_L, y);
    if (plot->replicates) {   // what the means are over, and what makes a configuration (issue 13)
        results_buf_cat(b, "runs (");
        svg_text(b, plot->replicates);
        results_buf_cat(b, ")");
    } else {
        results_buf_cat(b, "seeds");
    }
    results_buf_cat(b, " per (method, \xce\xbb, prompt length");
    if (plot->config_keys) {
        results_buf_cat(b, ", ");
        svg_text(b, plot->config_keys);
    }
    results_buf_cat(b, ")</text>\n");
    // the y axis is what is reported, not what chose the frontier: say so where it is read
    y += HEAD_STEP;
    results_buf_printf(b, "<text x=\"%d\" y=\"%d\" font-size=\"12\" fill=\"#555\">"
                          "frontier chosen on dev, plotted at test means (selection: dev)</text>\n", PLOT_L, y);
}

/* The panel's axes: the seed means with their error bars, but a bar may widen the plot by at
 * most the means' own span (with 2 seeds t = 12.7 and one wide bar would squeeze every point
 * into a corner), and never past what the metric can be (accuracy in [0, 1], log-PPL >= 0);
 * bars reaching further are cut at the plot's edge and drawn without their end cap. */
static void panel_axes(const ResultsPlotPanel *pn, Axis *x, Axis *y) {
    int n = pn->n_points;
    double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
    double mx0 = INFINITY, mx1 = -INFINITY, my0 = INFINITY, my1 = -INFINITY;
    for (int i = 0; i < n; i++) {
        const ResultsPlotPoint *p = &pn->points[i];
        double ex = isfinite(p->log_ppl_ci) ? p->log_ppl_ci : 0, ey = isfinite(p->acc_ci) ? p->acc_ci : 0;
        x0 = fmin(x0, p->log_ppl - ex), x1 = fmax(x1, p->log_ppl + ex);
        y0 = fmin(y0, p->acc - ey), y1 = fmax(y1, p->acc + ey);
        mx0 = fmin(mx0, p->log_ppl), mx1 = fmax(mx1, p->log_ppl);
        my0 = fmin(my0, p->acc), my1 = fmax(my1, p->acc);
    }
    if (n == 0) x0 = 0, x1 = 1, y0 = 0, y1 = 1;
    else {
        double wx = fmax(mx1 - mx0, 0.5), wy = fmax(my1 - my0, 0.02);   // a floor for a single point
        x0 = fmax(fmax(x0, mx0 - wx), fmin(mx0, 0)), x1 = fmin(x1, mx1 + wx);
        y0 = fmax(fmax(y0, my0 - wy), fmin(my0, 0)), y1 = fmin(fmin(y1, my1 + wy), fmax(my1, 1));
    }
    *x = nice_axis(x0, x1), *y = nice_axis(y0, y1);
    // the padding must not take an axis past what its metric can be
    if (x->lo < 0 && x0 >= 0) x->lo = 0;
    if (y->lo < 0 && y0 >= 0) y->lo = 0;
    if (y->hi > 1 && y1 <= 1) y->hi = 1;
}

/* The reference point's lines (chance, ln V), where they fall inside the plot; their labels
 * join the obstacles. Returns whether either was drawn. */
static int reference_lines(ResultsBuf *b, const ResultsPlotPanel *pn, const Axis *x, const Axis *y, Scratch *s) {
    int drawn = 0;
    if (isfinite(pn->chance) && pn->chance > y->lo && pn->chance < y->hi) {
        double py = sy(y, pn->chance);
        results_buf_printf(b, "<line x1=\"%d\" y1=\"%.1f\" x2=\"%d\" y2=\"%.1f\" stroke=\"#888\" "
                              "stroke-dasharray=\"2 3\"/>\n", PLOT_L, py, PLOT_L + PLOT_W, py);
        results_buf_printf(b, "<text x=\"%d\" y=\"%.1f\" font-size=\"10\" fill=\"#666\">chance %.3g</text>\n",
                           PLOT_L + 4, py - 3, pn->chance);
        s->boxes[s->n_boxes++] = (Box){PLOT_L + 2, py - 13, PLOT_L + 70, py};
        drawn = 1;
    }
    if (isfinite(pn->ln_vocab) && pn->ln_vocab > x->lo && pn->ln_vocab < x->hi) {
        double px = sx(x, pn->ln_vocab);
        results_buf_printf(b, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#888\" "
                              "stroke-dasharray=\"2 3\"/>\n", px, PLOT_T, px, PLOT_T + PLOT_H);
        results_buf_printf(b, "<text x=\"%.1f\" y=\"%d\" font-size=\"10\" fill=\"#666\" text-anchor=\"end\">"
                              "ln V</text>\n", px - 3, PLOT_T + 12);
        s->boxes[s->n_boxes++] = (Box){px - 30, PLOT_T, px, PLOT_T + 15};
        drawn = 1;
    }
    return drawn;
}

/* The frontiers' step lines: across methods (dashed, under), then each method's. */
static void frontier_lines(ResultsBuf *b, const ResultsPlot *plot, const ResultsPlotPanel *pn, const Axis *x,
                           const Axis *y, Scratch *s) {
    step_line(b, pn, -1, 1, s->corners, x, y, "stroke=\"#333\" stroke-width=\"1.3\" stroke-dasharray=\"6 4\"",
              s->boxes, &s->n_boxes);
    for (int m = 0; m < plot->n_methods; m++) {
        if (!s->colours[m]) continue;   // baselines are references, not a series
        char style[128];
        snprintf(style, sizeof style, "stroke=\"%s\" stroke-width=\"2\" stroke-opacity=\"0.75\"", s->colours[m]);
        step_line(b, pn, m, 0, s->corners, x, y, style, s->boxes, &s->n_boxes);
    }
}

/* Every point's error bars (under the markers); sets the marker centres s->px, s->py. */
static void error_bars(ResultsBuf *b, const ResultsPlotPanel *pn, const Axis *x, const Axis *y, Scratch *s) {
    for (int i = 0; i < pn->n_points; i++) {
        const ResultsPlotPoint *p = &pn->points[i];
        s->px[i] = sx(x, p->log_ppl), s->py[i] = sy(y, p->acc);
        const char *c = point_colour(s, p);
        if (isfinite(p->acc_ci) && p->acc_ci > 0)
            s->n_cut += error_bar(b, x, y, p->log_ppl, p->acc, 0, p->acc_ci, c, s->boxes, &s->n_boxes);
        if (isfinite(p->log_ppl_ci) && p->log_ppl_ci > 0)
            s->n_cut += error_bar(b, x, y, p->log_ppl, p->acc, p->log_ppl_ci, 0, c, s->boxes, &s->n_boxes);
    }
}

/* The markers: filled on their method's frontier, hollow when dominated, × when a seed collapsed. */
/* A baseline's marker: a grey diamond, its prompt in its tooltip (cut: a prompt may be long). */
static void baseline_marker(ResultsBuf *b, double cx, double cy, const char *text) {
    double r = MARKER_R + 1.5;
    results_buf_printf(b, "<path class=\"baseline\" d=\"M%.1f %.1f L%.1f %.1f L%.1f %.1f L%.1f %.1f Z\" fill=\"%s\" "
                          "stroke=\"%s\" stroke-width=\"1.5\">", cx, cy - r, cx + r, cy, cx, cy + r, cx - r, cy,
                       BASELINE_FILL, BASELINE_COLOUR);
    if (text) {
        ResultsBuf cut = {0};
        results_buf_cat(&cut, text[0] ? "manual prompt (baseline): \xe2\x80\x9c" : "manual prompt (baseline): the empty prompt");
        if (text[0]) results_buf_cut(&cut, text, 200), results_buf_cat(&cut, "\xe2\x80\x9d");
        results_buf_cat(b, "<title>");
        svg_text(b, cut.s);
        results_buf_cat(b, "</title>");
        results_buf_free(&cut);
    }
    results_buf_cat(b, "</path>\n");
}

static Collapses markers(ResultsBuf *b, const ResultsPlot *plot, const ResultsPlotPanel *pn, Scratch *s) {
    Collapses cc = {0, 0, 0};
    for (int i = 0; i < pn->n_points; i++) {
        const ResultsPlotPoint *p = &pn->points[i];
        const char *c = point_colour(s, p);
        int few = p->n_runs < FEW_RUNS;
        s->n_few += few;
        if (few) results_buf_printf(b, "<g class=\"few-runs\" opacity=\"%s\">", FEW_OPACITY);
        if (p->baseline) {
            baseline_marker(b, s->px[i], s->py[i], p->baseline);
        } else {
            char attrs[160];
            snprintf(attrs, sizeof attrs, "fill=\"%s\" stroke=\"%s\" stroke-width=\"1.8\"", p->on_front ? c : "#fff", c);
            shape_marker(b, point_shape(plot, s, p), s->px[i], s->py[i], MARKER_R, attrs);
        }
        if (few) results_buf_cat(b, "</g>\n");
        if (p->identical) {   // no spread between its runs: its (absent) CI claims nothing
            s->n_identical++;
            results_buf_printf(b, "<circle class=\"identical\" cx=\"%.1f\" cy=\"%.1f\" r=\"%.1f\" fill=\"none\" stroke=\"%s\" "
                                  "stroke-width=\"1.2\" stroke-dasharray=\"2.5 2\"><title>its %d runs gave identical results</title>"
                                  "</circle>\n", s->px[i], s->py[i], MARKER_R + 4.5, c, p->n_runs);
        }
        if (p->refined) {   // placed by the sweep where the frontier had a gap (issue 16): a small cross
            s->n_refined++;
            double x = s->px[i] + MARKER_R + 2.5, y = s->py[i] - MARKER_R - 2.5;
            results_buf_printf(b, "<path class=\"refined\" d=\"M%.1f %.1f h5 M%.1f %.1f v5\" stroke=\"%s\" stroke-width=\"1.4\">"
                                  "<title>lambda %g added by refinement round %d</title></path>\n",
                               x - 2.5, y, x, y - 2.5, c, p->lambda, p->refined);
        }
        cc.known |= p->n_collapsed >= 0;
        if (p->n_collapsed > 0) {
            cc.runs += p->n_collapsed;
            cc.points++;
            collapsed_mark(b, s->px[i], s->py[i], c, p->n_collapsed, p->n_runs, run_word(plot));
        }
        double reach = fmax(p->n_collapsed > 0 ? 3 : 1, p->identical ? 5.5 : 1);
        s->boxes[s->n_boxes++] = line_box(s->px[i], s->py[i], s->px[i], s->py[i], MARKER_R + reach);
    }
    return cc;
}

static int same_text(const char *a, const char *b) { return strcmp(a ? a : "", b ? b : "") == 0; }

/* Whether two points can share one label: one method, the same keys beyond λ and L, and for
 * baselines the same prompt. */
static int label_mates(const ResultsPlotPoint *a, const ResultsPlotPoint *b) {
    return a->method == b->method && !a->baseline == !b->baseline && same_text(a->baseline, b->baseline) &&
           same_text(a->detail, b->detail);
}

/* The labels' text: points of one method drawn on the same pixel share one label ("λ=0, 1"),
 * held by the first of them (s->host). */
static void label_texts(const ResultsPlot *plot, const ResultsPlotPanel *pn, Scratch *s) {
    int n = pn->n_points;
    for (int i = 0; i < n; i++) {
        s->host[i] = i;
        for (int k = 0; k < i && s->host[i] == i; k++)
            if (s->host[k] == k && label_mates(&pn->points[k], &pn->points[i]) && fabs(s->px[k] - s->px[i]) < 0.5 &&
                fabs(s->py[k] - s->py[i]) < 0.5)
                s->host[i] = k;
    }
    for (int i = 0; i < n; i++) {
        s->labels[i][0] = '\0';
        if (s->host[i] == i) make_label(s->labels[i], pn, s->host, n, i, plot->show_length);
    }
}

/* Whether label box lb at a spot around point i is free: it covers no obstacle and, without a
 * leader line, lies nearer to its own marker than to any other (a label belongs to the marker
 * nearest to it). */
static int label_fits(const ResultsPlotPanel *pn, const Scratch *s, int i, const Box *lb, int leader) {
    for (int q = 0; q < s->n_boxes; q++)
        if (overlaps(lb, &s->boxes[q])) return 0;
    for (int j = 0; j < pn->n_points && !leader; j++)
        if (s->host[j] != i && box_distance(lb, s->px[j], s->py[j]) < box_distance(lb, s->px[i], s->py[i])) return 0;
    return 1;
}

/* Point i's label at spot sp (box lb), with a leader line from its marker when sp is far. */
static void draw_label(ResultsBuf *b, const ResultsPlotPanel *pn, const Scratch *s, int i, const Spot *sp,
                       const Box *lb) {
    const char *c = point_colour(s, &pn->points[i]);
    if (sp->leader) {   // from the marker's edge to the nearest point of the label
        double ex = fmin(fmax(s->px[i], lb->x0), lb->x1), ey = fmin(fmax(s->py[i], lb->y0), lb->y1);
        double dx = ex - s->px[i], dy = ey - s->py[i], d = sqrt(dx * dx + dy * dy);
        if (d > MARKER_R + 2)
            results_buf_printf(b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
                                  "stroke-width=\"0.8\" stroke-opacity=\"0.7\"/>\n",
                               s->px[i] + dx / d * (MARKER_R + 1), s->py[i] + dy / d * (MARKER_R + 1), ex, ey, c);
    }
    // a white halo keeps the label legible over grid and step lines; a baseline's prompt is in italics
    results_buf_printf(b, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"%s\" font-size=\"%.0f\" fill=\"%s\"%s "
                          "stroke=\"#fff\" stroke-width=\"3\" stroke-linejoin=\"round\" paint-order=\"stroke\">",
                       s->px[i] + sp->dx, s->py[i] + sp->dy, sp->anchor, LABEL_FONT, c,
                       pn->points[i].baseline ? " font-style=\"italic\"" : "");
    svg_text(b, s->labels[i]);
    results_buf_cat(b, "</text>\n");
}

/* Point i's label at the nearest spot inside the plot where it fits; it then becomes an
 * obstacle itself. Returns whether it was placed. */
static int place_label(ResultsBuf *b, const ResultsPlotPanel *pn, Scratch *s, int i) {
    Box area = {PLOT_L + 2, PLOT_T + 2, PLOT_L + PLOT_W - 2, PLOT_T + PLOT_H - 2};
    double w = text_width(s->labels[i], LABEL_FONT);
    for (int k = 0; k < N_SPOTS; k++) {
        Box lb = label_box(s->px[i], s->py[i], &SPOTS[k], w);
        if (lb.x0 < area.x0 || lb.x1 > area.x1 || lb.y0 < area.y0 || lb.y1 > area.y1) continue;
        if (!label_fits(pn, s, i, &lb, SPOTS[k].leader)) continue;
        s->boxes[s->n_boxes++] = lb;
        draw_label(b, pn, s, i, &SPOTS[k], &lb);
        return 1;
    }
    return 0;
}

/* The λ labels, frontier points first; returns how many found no place (left out). */
static int labels(ResultsBuf *b, const ResultsPlot *plot, const ResultsPlotPanel *pn, Scratch *s) {
    label_texts(plot, pn, s);
    int n_ranked = 0;
    for (int i = 0; i < pn->n_points; i++)
        if (s->labels[i][0]) s->ranked[n_ranked++] = (Ranked){&pn->points[i], i};
    qsort(s->ranked, (size_t)n_ranked, sizeof *s->ranked, cmp_ranked);
    int hidden = 0;
    for (int r = 0; r < n_ranked; r++) hidden += !place_label(b, pn, s, s->ranked[r].i);
    return hidden;
}

// ----------------------------------------------------------------------------
// the legend, right of the plot, top down; each part returns the baseline below it

/* The methods present in the panel, each with its hypervolume, and the frontier across them. */
static double legend_methods(ResultsBuf *b, const ResultsPlot *plot, const ResultsPlotPanel *pn, const Scratch *s,
                             double ly) {
    results_buf_printf(b, "<text x=\"%d\" y=\"%.0f\" font-size=\"13\" font-weight=\"bold\">method (hypervolume)</text>\n",
                       LEGEND_X, ly);
    ly += 22;
    int baselines = 0;
    for (int i = 0; i < pn->n_points; i++) baselines += pn->points[i].baseline != NULL;
    for (int m = 0; m < plot->n_methods; m++) {
        int present = 0;
        for (int i = 0; i < pn->n_points && !present; i++) present = pn->points[i].method == m;
        const char *c = s->colours[m];
        if (!present || !c) continue;   // a baseline method: its entry follows
        results_buf_printf(b, "<line x1=\"%d\" y1=\"%.0f\" x2=\"%d\" y2=\"%.0f\" stroke=\"%s\" stroke-width=\"2\"/>"
                              "<circle cx=\"%d\" cy=\"%.0f\" r=\"%.0f\" fill=\"%s\"/>\n",
                           LEGEND_X, ly - 4, LEGEND_X + 24, ly - 4, c, LEGEND_X + 12, ly - 4, MARKER_R, c);
        results_buf_printf(b, "<text x=\"%d\" y=\"%.0f\" font-size=\"12\">", LEGEND_X + 32, ly);
        svg_text(b, plot->methods[m]);
        if (pn->hypervolume && isfinite(pn->hypervolume[m])) results_buf_printf(b, " (%.4g)", pn->hypervolume[m]);
        results_buf_cat(b, "</text>\n");
        ly += 20;
    }
    if (baselines) {
        baseline_marker(b, LEGEND_X + 12, ly - 4, NULL);
        results_buf_printf(b, "<text x=\"%d\" y=\"%.0f\" font-size=\"12\">manual prompts (baselines)</text>\n",
                           LEGEND_X + 32, ly);
        ly += 20;
    }
    if (isfinite(pn->hypervolume_all)) {
        results_buf_printf(b, "<line x1=\"%d\" y1=\"%.0f\" x2=\"%d\" y2=\"%.0f\" stroke=\"#333\" stroke-width=\"1.3\" "
                              "stroke-dasharray=\"6 4\"/><text x=\"%d\" y=\"%.0f\" font-size=\"12\">all methods (%.4g)</text>\n",
                           LEGEND_X, ly - 4, LEGEND_X + 24, ly - 4, LEGEND_X + 32, ly, pn->hypervolume_all);
        ly += 20;
    }
    return ly;
}

/* The marker shapes of the prompt lengths, when they vary: "prompt length L:" then three a row. */
static double legend_lengths(ResultsBuf *b, const ResultsPlot *plot, const Scratch *s, double ly) {
    if (!plot->show_length || s->n_lengths == 0) return ly;
    results_buf_printf(b, "<text x=\"%d\" y=\"%.0f\" font-size=\"12\">marker: prompt length L</text>\n", LEGEND_X, ly);
    ly += 18;
    for (int k = 0; k < s->n_lengths; k++) {
        double x = LEGEND_X + 12 + (k % 3) * 70;
        shape_marker(b, k % N_SHAPES, x, ly - 4, MARKER_R, "fill=\"#555\" stroke=\"#555\" stroke-width=\"1.8\"");
        results_buf_printf(b, "<text x=\"%.0f\" y=\"%.0f\" font-size=\"12\">L%d</text>\n", x + 11, ly, s->lengths[k]);
        if (k % 3 == 2 || k == s->n_lengths - 1) ly += 18;
    }
    return ly + 2;
}

/* What the symbols mean: filled and hollow markers, the collapsed × (when records say), the
 * error bars. */
static double legend_symbols(ResultsBuf *b, const ResultsPlot *plot, Collapses cc, double ly) {
    results_buf_printf(b, "<circle cx=\"%d\" cy=\"%.0f\" r=\"%.0f\" fill=\"#555\" stroke=\"#555\" stroke-width=\"1.8\"/>"
                          "<text x=\"%d\" y=\"%.0f\" font-size=\"12\">on its method's dev frontier</text>\n",
                       LEGEND_X + 12, ly - 4, MARKER_R, LEGEND_X + 32, ly);
    ly += 20;
    results_buf_printf(b, "<circle cx=\"%d\" cy=\"%.0f\" r=\"%.0f\" fill=\"#fff\" stroke=\"#555\" stroke-width=\"1.8\"/>"
                          "<text x=\"%d\" y=\"%.0f\" font-size=\"12\">dominated on dev in its method</text>\n",
                       LEGEND_X + 12, ly - 4, MARKER_R, LEGEND_X + 32, ly);
    ly += 20;
    if (cc.known) {   // records before tune 2 do not say: then nothing is claimed
        results_buf_printf(b, "<circle cx=\"%d\" cy=\"%.0f\" r=\"%.0f\" fill=\"#fff\" stroke=\"#555\" stroke-width=\"1.8\"/>\n",
                           LEGEND_X + 12, ly - 4, MARKER_R);
        collapsed_mark(b, LEGEND_X + 12, ly - 4, "#555", -1, -1, NULL);
        results_buf_printf(b, "<text x=\"%d\" y=\"%.0f\" font-size=\"12\">collapsed: %d run%s (%d point%s)</text>\n"
                              "<text x=\"%d\" y=\"%.0f\" font-size=\"10\" fill=\"#666\">(\xe2\x89\xa5 95%% of test predicted as "
                              "one label)</text>\n",
                           LEGEND_X + 32, ly, cc.runs, cc.runs == 1 ? "" : "s", cc.points, cc.points == 1 ? "" : "s",
                           LEGEND_X + 32, ly + 13);
        ly += 33;
    }
    results_buf_printf(b, "<path d=\"M%d %.0f H%d M%d %.0f V%.0f M%d %.0f V%.0f\" stroke=\"#555\" fill=\"none\"/>"
                          "<text x=\"%d\" y=\"%.0f\" font-size=\"12\">95%% CI over %ss (t)</text>\n",
                       LEGEND_X + 2, ly - 4, LEGEND_X + 22, LEGEND_X + 2, ly - 7, ly - 1, LEGEND_X + 22, ly - 7, ly - 1,
                       LEGEND_X + 32, ly, run_word(plot));
    ly += 20;
    return ly;
}

/* What flags a point's statistics (only those the panel shows): bars cut at the edge, points of
 * few runs, points whose runs gave identical results. */
static double legend_flags(ResultsBuf *b, const ResultsPlot *plot, const Scratch *s, double ly) {
    if (s->n_cut) {
        results_buf_printf(b, "<path d=\"M%d %.0f H%d\" stroke=\"#555\" fill=\"none\"/>", LEGEND_X + 2, ly - 4, LEGEND_X + 18);
        cut_arrow(b, LEGEND_X + 24, ly - 4, 1, 0, "#555");
        results_buf_printf(b, "<text x=\"%d\" y=\"%.0f\" font-size=\"12\">CI cut at the plot's edge</text>\n", LEGEND_X + 32, ly);
        ly += 20;
    }
    if (s->n_few) {
        results_buf_printf(b, "<g opacity=\"%s\">", FEW_OPACITY);
        shape_marker(b, SHAPE_CIRCLE, LEGEND_X + 12, ly - 4, MARKER_R, "fill=\"#555\" stroke=\"#555\" stroke-width=\"1.8\"");
        results_buf_printf(b, "</g><text x=\"%d\" y=\"%.0f\" font-size=\"12\">(n=\xe2\x80\xa6): under %d %ss, %d point%s</text>\n"
                              "<text x=\"%d\" y=\"%.0f\" font-size=\"10\" fill=\"#666\">(its CI says little, or is absent)</text>\n",
                           LEGEND_X + 32, ly, FEW_RUNS, run_word(plot), s->n_few, s->n_few == 1 ? "" : "s", LEGEND_X + 32, ly + 13);
        ly += 33;
    }
    if (s->n_refined) {
        shape_marker(b, SHAPE_CIRCLE, LEGEND_X + 12, ly - 4, MARKER_R, "fill=\"#fff\" stroke=\"#555\" stroke-width=\"1.8\"");
        results_buf_printf(b, "<path d=\"M%.1f %.1f h5 M%.1f %.1f v5\" stroke=\"#555\" stroke-width=\"1.4\"/>",
                           LEGEND_X + 12 + MARKER_R, ly - 4 - MARKER_R - 2.5, LEGEND_X + 14.5 + MARKER_R, ly - 9 - MARKER_R);
        results_buf_printf(b, "<text x=\"%d\" y=\"%.0f\" font-size=\"12\">+: \xce\xbb added by refinement (%d)</text>\n",
                           LEGEND_X + 32, ly, s->n_refined);
        ly += 20;
    }
    if (s->n_identical) {
        results_buf_printf(b, "<circle cx=\"%d\" cy=\"%.0f\" r=\"%.1f\" fill=\"none\" stroke=\"#555\" stroke-width=\"1.2\" "
                              "stroke-dasharray=\"2.5 2\"/>", LEGEND_X + 12, ly - 4, MARKER_R + 4.5);
        shape_marker(b, SHAPE_CIRCLE, LEGEND_X + 12, ly - 4, MARKER_R, "fill=\"#555\" stroke=\"#555\" stroke-width=\"1.8\"");
        results_buf_printf(b, "<text x=\"%d\" y=\"%.0f\" font-size=\"12\">%d point%s: %ss identical</text>\n"
                              "<text x=\"%d\" y=\"%.0f\" font-size=\"10\" fill=\"#666\">(no spread: no CI)</text>\n",
                           LEGEND_X + 32, ly, s->n_identical, s->n_identical == 1 ? "" : "s", run_word(plot), LEGEND_X + 32, ly + 13);
        ly += 33;
    }
    return ly;
}

/* The reference lines' entry (when drawn). */
static double legend_reference(ResultsBuf *b, int ref_drawn, double ly) {
    if (ref_drawn) {
        results_buf_printf(b, "<line x1=\"%d\" y1=\"%.0f\" x2=\"%d\" y2=\"%.0f\" stroke=\"#888\" stroke-dasharray=\"2 3\"/>"
                              "<text x=\"%d\" y=\"%.0f\" font-size=\"12\">reference: chance, ln V</text>\n",
                           LEGEND_X, ly - 4, LEGEND_X + 24, ly - 4, LEGEND_X + 32, ly);
        ly += 20;
    }
    return ly;
}

/* The notes: what the hypervolume measures, what the labels say, seeds (runs) per point,
 * failed and unfinished runs. */
static void legend_notes(ResultsBuf *b, const ResultsPlot *plot, const ResultsPlotPanel *pn, double ly) {
    results_buf_printf(b, "<text x=\"%d\" y=\"%.0f\" font-size=\"11\" fill=\"#666\">hypervolume: area (accuracy \xc3\x97 nats)</text>\n"
                          "<text x=\"%d\" y=\"%.0f\" font-size=\"11\" fill=\"#666\">beyond (chance %.3g, ln V %.2f)</text>\n",
                       LEGEND_X, ly + 4, LEGEND_X, ly + 18, pn->chance, pn->ln_vocab);
    ly += 40;
    results_buf_printf(b, "<text x=\"%d\" y=\"%.0f\" font-size=\"12\" fill=\"#333\">labels: \xce\xbb%s</text>\n",
                       LEGEND_X, ly, plot->show_length ? " and prompt length L" : "");
    ly += 18;
    const char *word = run_word(plot);
    if (pn->runs_min == pn->runs_max)
        results_buf_printf(b, "<text x=\"%d\" y=\"%.0f\" font-size=\"12\" fill=\"#333\">%d %s%s per point</text>\n",
                           LEGEND_X, ly, pn->runs_min, word, pn->runs_min == 1 ? "" : "s");
    else
        results_buf_printf(b, "<text x=\"%d\" y=\"%.0f\" font-size=\"12\" fill=\"#333\">%d to %d %ss per point</text>\n",
                           LEGEND_X, ly, pn->runs_min, pn->runs_max, word);
    ly += 18;
    results_buf_printf(b, "<text x=\"%d\" y=\"%.0f\" font-size=\"12\" fill=\"%s\">%d failed run%s%s</text>\n", LEGEND_X,
                       ly, pn->n_failed ? "#b00" : "#333", pn->n_failed, pn->n_failed == 1 ? "" : "s",
                       pn->n_failed ? " (frontier.json)" : "");
    ly += 18;
    if (pn->n_pending)
        results_buf_printf(b, "<text x=\"%d\" y=\"%.0f\" font-size=\"12\" fill=\"#333\">%d run%s not finished</text>\n",
                           LEGEND_X, ly, pn->n_pending, pn->n_pending == 1 ? "" : "s");
}

static void legend(ResultsBuf *b, const ResultsPlot *plot, const ResultsPlotPanel *pn, const Scratch *s, Collapses cc,
                   int ref_drawn) {
    double ly = legend_methods(b, plot, pn, s, PLOT_T + 6);
    ly = legend_lengths(b, plot, s, ly + 4);
    ly = legend_symbols(b, plot, cc, ly + 6);
    ly = legend_flags(b, plot, s, ly);
    ly = legend_reference(b, ref_drawn, ly);
    legend_notes(b, plot, pn, ly);
}

// ----------------------------------------------------------------------------

/* Across a random-init panel's plot, under everything: no reader can take its points for a
 * finding. */
static void random_init_mark(ResultsBuf *b, const ResultsPlotPanel *pn) {
    if (random_init_of(pn) != 2) return;
    results_buf_printf(b, "<text class=\"random-init\" x=\"%d\" y=\"%d\" text-anchor=\"middle\" font-size=\"38\" font-weight=\"bold\" "
                          "fill=\"%s\" fill-opacity=\"0.10\" transform=\"rotate(-18 %d %d)\">RANDOM-INIT MODEL</text>\n",
                       PLOT_L + PLOT_W / 2, PLOT_T + PLOT_H / 2 + 12, RANDOM_INIT_COLOUR, PLOT_L + PLOT_W / 2, PLOT_T + PLOT_H / 2);
}

static void panel(ResultsBuf *b, const ResultsPlot *plot, const ResultsPlotPanel *pn, double top, Scratch *s) {
    s->n_boxes = 0;
    s->n_cut = s->n_few = s->n_identical = s->n_refined = 0;
    panel_heading(b, plot, pn, top);
    Axis x, y;
    panel_axes(pn, &x, &y);
    axes(b, &x, &y);
    random_init_mark(b, pn);
    if (pn->n_points == 0)
        results_buf_printf(b, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" font-size=\"14\" fill=\"#555\">"
                              "no finished points yet</text>\n", PLOT_L + PLOT_W / 2, PLOT_T + PLOT_H / 2);
    int ref_drawn = reference_lines(b, pn, &x, &y, s);
    frontier_lines(b, plot, pn, &x, &y, s);
    error_bars(b, pn, &x, &y, s);
    Collapses cc = markers(b, plot, pn, s);
    int hidden = labels(b, plot, pn, s);
    legend(b, plot, pn, s, cc, ref_drawn);
    if (hidden)
        results_buf_printf(b, "<text x=\"%d\" y=\"%d\" font-size=\"11\" fill=\"#666\">%d label%s left out where %s "
                              "would overlap (frontier.csv has every point)</text>\n",
                           PLOT_L, PLOT_T + PLOT_H + 62, hidden, hidden == 1 ? "" : "s", hidden == 1 ? "it" : "they");
    results_buf_cat(b, "</g>\n");
}

/* Each method's colour, in method order; a method whose points are baselines gets none
 * (NULL), so the tuned methods' colours do not depend on whether baselines are present. */
static const char **method_colours(const ResultsPlot *plot) {
    const char **colours = malloc((size_t)(plot->n_methods > 0 ? plot->n_methods : 1) * sizeof *colours);
    if (!colours) return NULL;
    for (int m = 0, slot = 0; m < plot->n_methods; m++) {
        int baseline = 0;
        for (int k = 0; k < plot->n_panels && !baseline; k++)
            for (int i = 0; i < plot->panels[k].n_points && !baseline; i++)
                baseline = plot->panels[k].points[i].method == m && plot->panels[k].points[i].baseline;
        colours[m] = baseline ? NULL : COLOURS[slot++ % N_COLOURS];
    }
    return colours;
}

static int cmp_int(const void *a, const void *b) { return (*(const int *)a > *(const int *)b) - (*(const int *)a < *(const int *)b); }

/* The tuned points' distinct prompt lengths, ascending, into s->lengths (malloc'd): one marker
 * shape each, the same in every panel. */
static int length_shapes(const ResultsPlot *plot, Scratch *s) {
    int n = 0;
    for (int k = 0; k < plot->n_panels; k++) n += plot->panels[k].n_points;
    s->lengths = malloc((size_t)(n ? n : 1) * sizeof *s->lengths);
    s->n_lengths = 0;
    if (!s->lengths) return -1;
    for (int k = 0; k < plot->n_panels; k++)
        for (int i = 0; i < plot->panels[k].n_points; i++)
            if (!plot->panels[k].points[i].baseline) s->lengths[s->n_lengths++] = plot->panels[k].points[i].prompt_length;
    qsort(s->lengths, (size_t)s->n_lengths, sizeof *s->lengths, cmp_int);
    int d = 0;
    for (int i = 0; i < s->n_lengths; i++)
        if (d == 0 || s->lengths[i] != s->lengths[d - 1]) s->lengths[d++] = s->lengths[i];
    s->n_lengths = d;
    return 0;
}

int results_svg(ResultsBuf *b, const ResultsPlot *plot, Err *err) {
    int most = 1;
    for (int k = 0; k < plot->n_panels; k++)
        if (plot->panels[k].n_points > most) most = plot->panels[k].n_points;
    // one block for all the scratch arrays, sized for the largest panel
    size_t n = (size_t)most;
    size_t bytes = n * sizeof(Corner) + (BOXES_PER_POINT * n + 2) * sizeof(Box) + n * sizeof(Ranked) +
                   n * LABEL_CAP + 2 * n * sizeof(double) + n * sizeof(int);
    char *block = malloc(bytes);
    Scratch s;
    s.colours = method_colours(plot);
    int lengths_rc = length_shapes(plot, &s);
    if (!block || !s.colours || lengths_rc) {
        free(block);
        free(s.colours);
        free(s.lengths);
        snprintf(err->msg, sizeof err->msg, "svg: out of memory (%zu bytes)", bytes);
        return -1;
    }
    char *q = block;
    s.boxes = (Box *)q, q += (BOXES_PER_POINT * n + 2) * sizeof(Box);
    s.corners = (Corner *)q, q += n * sizeof(Corner);
    s.px = (double *)q, q += n * sizeof(double);
    s.py = (double *)q, q += n * sizeof(double);
    s.ranked = (Ranked *)q, q += n * sizeof(Ranked);
    s.labels = (char (*)[LABEL_CAP])q, q += n * LABEL_CAP;
    s.host = (int *)q;

    int panels = plot->n_panels > 0 ? plot->n_panels : 1;
    results_buf_printf(b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                          "<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"%d\" height=\"%d\" "
                          "viewBox=\"0 0 %d %d\" font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\">\n",
                       PANEL_W, PANEL_H * panels, PANEL_W, PANEL_H * panels);
    results_buf_printf(b, "<rect width=\"%d\" height=\"%d\" fill=\"#fff\"/>\n", PANEL_W, PANEL_H * panels);
    if (plot->n_panels == 0)
        results_buf_printf(b, "<text x=\"%d\" y=\"%d\" text-anchor=\"middle\" font-size=\"16\">no results in the journal yet</text>\n",
                           PANEL_W / 2, PANEL_H / 2);
    for (int k = 0; k < plot->n_panels; k++) panel(b, plot, &plot->panels[k], (double)k * PANEL_H, &s);
    results_buf_cat(b, "</svg>\n");
    free(block);
    free(s.colours);
    free(s.lengths);
    if (b->oom) {
        snprintf(err->msg, sizeof err->msg, "svg: out of memory");
        return -1;
    }
    return 0;
}
