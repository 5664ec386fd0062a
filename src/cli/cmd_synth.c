/* cmd_synth.c — `lvt synth`: write a synthetic article store (or train/val/ood stores) with the
 * generator of src/data/synth.c. Model, defaults and calibration: docs/synth.md. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "lvt/synth.h"

static void usage(void) {
    printf("usage: lvt synth --out S.h5 [options]\n\n"
           "Write a seeded synthetic article store (docs/synth.md; model and calibration in docs/synth.md).\n\n"
           "  --out PATH         output store (required)\n"
           "  --articles N       number of articles (default 1000)\n"
           "  --mean-len M       mean article length in chunks, lognormal tail (default 70)\n"
           "  --dim D            vector dimension (default 768)\n"
           "  --drift X          share of fresh content that follows the global rotation, in [0,1];\n"
           "                     0 = no forward signal at all (default 0.5)\n"
           "  --seed S           article randomness (default 1)\n"
           "  --world W          the rotation and topic clusters shared by stores (default 0)\n"
           "  --copy-cos C       target mean cos(ctx[-1], target) (default 0.52)\n"
           "  --far-cos C        target mean cos(ctx[0], target), lag 5 (default 0.455)\n"
           "  --focus K          topic share slope over ln(article length) (default 0.0625)\n"
           "  --topics K         topic clusters (default 64)\n"
           "  --splits           write OUT-train.h5, OUT-val.h5, OUT-ood.h5 beside OUT instead\n"
           "  --split-val N      val articles with --splits (default articles/10, at least 1)\n"
           "  --split-ood N      ood articles with --splits (default articles/10, at least 1)\n");
}

/* OUT with its .h5 extension replaced by -NAME.h5. */
static int split_path(const char *out, const char *name, char *dst, size_t cap) {
    size_t n = strlen(out);
    if (n > 3 && !strcmp(out + n - 3, ".h5")) n -= 3;
    return snprintf(dst, cap, "%.*s-%s.h5", (int)n, out, name) >= (int)cap ? -1 : 0;
}

static int write_one(const char *path, const lvt_synth_opts *o) {
    lvt_err e = {{0}};
    lvt_store s;
    double t0 = lvt_now();
    if (lvt_synth_generate(o, &s, &e)) return cli_fail("synth", "%s", e.msg);
    double t1 = lvt_now();
    lvt_store_write_opts wo = {0, 0};
    int rc = lvt_store_write(path, &s, &wo, &e);
    double t2 = lvt_now();
    if (rc == LVT_OK)
        printf("wrote %s: %lld articles, %lld chunks, dim %d (generate %.2f s, write %.2f s)\n", path,
               (long long)s.n_articles, (long long)s.n, s.dim, t1 - t0, t2 - t1);
    lvt_store_free(&s);
    if (rc) return cli_fail("synth", "%s", e.msg);
    return 0;
}

/* The flags into o; 0 on success, 1 after printing the error. */
typedef struct synth_args {
    const char *out;
    int splits;
    long long n_val, n_ood; /* -1: a tenth of --articles */
} synth_args;

static int parse_args(int argc, char **argv, lvt_synth_opts *o, synth_args *a) {
    const char *v = NULL;
    long long x = 0;
    a->out = NULL;
    a->splits = 0;
    a->n_val = a->n_ood = -1;
    for (int i = 1; i < argc; i++) {
        int r;
        if (!strcmp(argv[i], "--splits")) {
            a->splits = 1;
            continue;
        }
        if ((r = cli_flag_value("synth", argc, argv, &i, "--out", &v))) {
            if (r < 0) return 1;
            a->out = v;
        } else if ((r = cli_flag_value("synth", argc, argv, &i, "--articles", &v))) {
            if (r < 0 || cli_parse_long("synth", "--articles", v, 1, 100000000, &x)) return 1;
            o->articles = x;
        } else if ((r = cli_flag_value("synth", argc, argv, &i, "--mean-len", &v))) {
            if (r < 0 || cli_parse_double("synth", "--mean-len", v, &o->mean_len)) return 1;
            if (!(o->mean_len >= 1.0 && o->mean_len <= 100000.0))
                return cli_fail("synth", "--mean-len must be in [1, 100000], got %s", v);
        } else if ((r = cli_flag_value("synth", argc, argv, &i, "--dim", &v))) {
            if (r < 0 || cli_parse_long("synth", "--dim", v, 2, 65536, &x)) return 1;
            o->dim = (int)x;
        } else if ((r = cli_flag_value("synth", argc, argv, &i, "--drift", &v))) {
            if (r < 0 || cli_parse_double("synth", "--drift", v, &o->drift)) return 1;
            if (!(o->drift >= 0.0 && o->drift <= 1.0)) return cli_fail("synth", "--drift must be in [0, 1], got %s", v);
        } else if ((r = cli_flag_value("synth", argc, argv, &i, "--seed", &v))) {
            if (r < 0 || cli_parse_long("synth", "--seed", v, 0, (long long)9.2e18, &x)) return 1;
            o->seed = (uint64_t)x;
        } else if ((r = cli_flag_value("synth", argc, argv, &i, "--world", &v))) {
            if (r < 0 || cli_parse_long("synth", "--world", v, 0, (long long)9.2e18, &x)) return 1;
            o->world = (uint64_t)x;
        } else if ((r = cli_flag_value("synth", argc, argv, &i, "--copy-cos", &v))) {
            if (r < 0 || cli_parse_double("synth", "--copy-cos", v, &o->copy_cos)) return 1;
        } else if ((r = cli_flag_value("synth", argc, argv, &i, "--far-cos", &v))) {
            if (r < 0 || cli_parse_double("synth", "--far-cos", v, &o->far_cos)) return 1;
        } else if ((r = cli_flag_value("synth", argc, argv, &i, "--focus", &v))) {
            if (r < 0 || cli_parse_double("synth", "--focus", v, &o->focus)) return 1;
            if (!(o->focus >= 0.0 && o->focus <= 1.0)) return cli_fail("synth", "--focus must be in [0, 1], got %s", v);
        } else if ((r = cli_flag_value("synth", argc, argv, &i, "--topics", &v))) {
            if (r < 0 || cli_parse_long("synth", "--topics", v, 1, 1000000, &x)) return 1;
            o->topics = (int)x;
        } else if ((r = cli_flag_value("synth", argc, argv, &i, "--split-val", &v))) {
            if (r < 0 || cli_parse_long("synth", "--split-val", v, 1, 100000000, &a->n_val)) return 1;
        } else if ((r = cli_flag_value("synth", argc, argv, &i, "--split-ood", &v))) {
            if (r < 0 || cli_parse_long("synth", "--split-ood", v, 1, 100000000, &a->n_ood)) return 1;
        } else {
            return cli_fail("synth", "unknown argument '%s' (see `lvt synth --help`)", argv[i]);
        }
    }
    if (!a->out) return cli_fail("synth", "--out is required (see `lvt synth --help`)");
    if (!a->splits && (a->n_val >= 0 || a->n_ood >= 0))
        return cli_fail("synth", "--split-val and --split-ood need --splits");
    return 0;
}

/* train / val / ood: one seed, three article streams, disjoint article ids; ood draws its topic
 * clusters from another world (same rotation = same "language", new topics). */
static int write_splits(const lvt_synth_opts *o, const synth_args *a) {
    long long n_train = (long long)o->articles, n_val = a->n_val, n_ood = a->n_ood;
    if (n_val < 0) n_val = n_train / 10 > 0 ? n_train / 10 : 1;
    if (n_ood < 0) n_ood = n_train / 10 > 0 ? n_train / 10 : 1;
    const char *names[3] = {"train", "val", "ood"};
    long long counts[3] = {n_train, n_val, n_ood};
    int64_t first = 0;
    for (int k = 0; k < 3; k++) {
        char path[4096];
        if (split_path(a->out, names[k], path, sizeof path)) return cli_fail("synth", "--out path too long");
        lvt_synth_opts so = *o;
        so.articles = counts[k];
        so.first_id = first;
        so.stream = k;
        so.ood = k == 2;
        if (write_one(path, &so)) return 1;
        first += counts[k];
    }
    return 0;
}

int cmd_synth(int argc, char **argv) {
    if (cli_wants_help(argc, argv)) {
        usage();
        return 0;
    }
    lvt_synth_opts o;
    lvt_synth_defaults(&o);
    synth_args a;
    if (parse_args(argc, argv, &o, &a)) return 1;
    lvt_err e = {{0}};
    double t2, s2;
    if (lvt_synth_calibrate(&o, &t2, &s2, &e)) return cli_fail("synth", "%s", e.msg);
    return a.splits ? write_splits(&o, &a) : write_one(a.out, &o);
}
