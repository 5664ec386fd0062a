/* cmd_convert.c — `lvt convert IN.npz|IN.npy --out OUT.h5 [--split NAME=LO-HI]...`: argument
 * parsing and help; the conversion itself is lvt_convert (src/data/convert.c, docs/convert.md). */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "lvt/convert.h"

static void help(void) {
    printf(
        "usage: lvt convert IN.npz|IN.npy --out OUT.h5 [--split NAME=LO-HI]... [options]\n"
        "\n"
        "Convert NumPy vectors into HDF5 article stores (normalized=0; readers normalise on load).\n"
        "\n"
        "Input layouts (recognised by content and member names):\n"
        "  articles NPZ   vectors (N, D) f4/f2/f8, article_indices (N,), optional chunk_indices (N,);\n"
        "                 rows are grouped by article (sorted by article, chunk if not grouped)\n"
        "  sequences NPZ  context_sequences|contexts (N, L, D), target_vectors|targets (N, D),\n"
        "                 optional article_ids (N,) and target_indices (N,): with both, the articles\n"
        "                 are rebuilt (an article with uncovered chunks is split at the gaps, the\n"
        "                 pieces keep its id); otherwise each window becomes an (L+1)-chunk article\n"
        "  raw .npy       (N, D): one article, or articles of --article-len rows\n"
        "\n"
        "options:\n"
        "  --out OUT.h5          output store (required)\n"
        "  --split NAME=LO-HI    articles with LO <= id <= HI go to OUT-NAME.h5 beside OUT.h5\n"
        "                        (repeatable, ranges must not overlap); with any split the rest goes\n"
        "                        to OUT-train.h5\n"
        "  --article-len K       raw .npy: cut the rows into articles of K rows (default: one article)\n"
        "  --drop-degenerate     drop rows whose norm is below 1e-6 (zero rows; otherwise an error)\n"
        "  --tolerance X         sequences: max |difference| between two copies of one chunk (1e-4)\n"
        "  --compress LEVEL      deflate /vectors in the output stores, 0..9 (default 0)\n"
        "\n"
        "Prints one line per store written. See docs/convert.md.\n");
}

int cmd_convert(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        help();
        return 0;
    }
    lvt_convert_opts o;
    lvt_convert_opts_default(&o);
    o.log = stdout;
    for (int i = 1; i < argc; i++) {
        const char *v = NULL;
        int r;
        long long ll;
        if ((r = cli_flag_value("convert", argc, argv, &i, "--out", &v))) {
            if (r < 0) return 1;
            o.out = v;
        } else if ((r = cli_flag_value("convert", argc, argv, &i, "--split", &v))) {
            if (r < 0) return 1;
            if (o.n_splits >= LVT_CONVERT_MAX_SPLITS)
                return cli_fail("convert", "at most %d --split options", LVT_CONVERT_MAX_SPLITS);
            lvt_err e;
            if (lvt_convert_parse_split(v, &o.splits[o.n_splits], &e)) return cli_fail("convert", "%s", e.msg);
            o.n_splits++;
        } else if ((r = cli_flag_value("convert", argc, argv, &i, "--article-len", &v))) {
            if (r < 0 || cli_parse_long("convert", "--article-len", v, 1, INT64_MAX, &ll)) return 1;
            o.article_len = ll;
        } else if (!strcmp(argv[i], "--drop-degenerate")) {
            o.drop_degenerate = 1;
        } else if ((r = cli_flag_value("convert", argc, argv, &i, "--tolerance", &v))) {
            if (r < 0 || cli_parse_double("convert", "--tolerance", v, &o.tolerance)) return 1;
            if (!(o.tolerance >= 0)) return cli_fail("convert", "--tolerance must be >= 0, got '%s'", v);
        } else if ((r = cli_flag_value("convert", argc, argv, &i, "--compress", &v))) {
            if (r < 0 || cli_parse_long("convert", "--compress", v, 0, 9, &ll)) return 1;
            o.compress = (int)ll;
        } else if (argv[i][0] == '-' && argv[i][1]) {
            return cli_fail("convert", "unknown option '%s' (see lvt convert --help)", argv[i]);
        } else if (!o.in) {
            o.in = argv[i];
        } else {
            return cli_fail("convert", "more than one input file ('%s' and '%s')", o.in, argv[i]);
        }
    }
    if (!o.in) return cli_fail("convert", "no input file (usage: lvt convert IN.npz|IN.npy --out OUT.h5)");
    if (!o.out) return cli_fail("convert", "--out OUT.h5 is required");
    lvt_err e;
    double t0 = lvt_now();
    if (lvt_convert(&o, &e)) return cli_fail("convert", "%s", e.msg);
    printf("converted %s in %.1f s\n", o.in, lvt_now() - t0);
    return 0;
}
