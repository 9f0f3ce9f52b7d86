/* test_ptbxl.c — CSV reader edge cases, scp_codes parser, PTB-XL counts on the bundled
 * sample (data/ptbxl-sample/README.md), tasks, protocols, splits and label-fraction subsets. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/util.h"
#include "data/csv.h"
#include "data/ptbxl.h"
#include "test.h"

static int has_error(const char *needle) { return strstr(kres_last_error(), needle) != NULL; }

static int csv_buf(CsvReader *r, const char *text) { return csv_open_buffer(r, "mem.csv", text, strlen(text)); }

static void test_csv(void) {
    CsvReader r;
    /* Quoted comma, doubled quotes, embedded CRLF/LF, empty fields, CRLF line ends, BOM. */
    const char *t = "\xEF\xBB\xBF" "a,b,c\r\n"
                    "1,\"x, y\",\"say \"\"hi\"\"\"\r\n"
                    "2,\"line1\nline2\",\r\n"
                    "\r\n"
                    "\"\",\"\"\"\",last";
    CHECK(csv_buf(&r, t) == 0);
    CHECK(r.nheader == 3 && csv_column(&r, "a") == 0 && csv_column(&r, "c") == 2);
    CHECK(csv_column(&r, "d") == -1);
    CHECK(csv_next(&r) == 1);
    CHECK(strcmp(csv_field(&r, 1), "x, y") == 0);
    CHECK(strcmp(csv_field(&r, 2), "say \"hi\"") == 0);
    CHECK(r.row_line == 2);
    CHECK(csv_next(&r) == 1);
    CHECK(strcmp(csv_field(&r, 0), "2") == 0 && strcmp(csv_field(&r, 1), "line1\nline2") == 0);
    CHECK(strcmp(csv_field(&r, 2), "") == 0);
    CHECK(r.row_line == 3);
    CHECK(csv_next(&r) == 1); /* blank line skipped; no final newline */
    CHECK(r.row_line == 6);
    CHECK(strcmp(csv_field(&r, 0), "") == 0 && strcmp(csv_field(&r, 1), "\"") == 0);
    CHECK(strcmp(csv_field(&r, 2), "last") == 0);
    CHECK(csv_next(&r) == 0);
    CHECK(csv_next(&r) == 0);
    csv_close(&r);

    /* Columns found by name whatever their order. */
    CHECK(csv_buf(&r, "z,ecg_id\n9,1\n") == 0);
    CHECK(csv_require(&r, "ecg_id") == 1);
    CHECK(csv_require(&r, "strat_fold") == -1 && has_error("mem.csv") && has_error("strat_fold"));
    csv_close(&r);

    /* Malformed input: each error names the file and the line. */
    CHECK(csv_buf(&r, "a,b\n1,2\n3\n") == 0);
    CHECK(csv_next(&r) == 1);
    CHECK(csv_next(&r) == -1 && has_error("mem.csv: line 3") && has_error("1 fields"));
    csv_close(&r);
    CHECK(csv_buf(&r, "a,b\n1,\"open\n2,3\n") == 0);
    CHECK(csv_next(&r) == -1 && has_error("line 2") && has_error("never closed"));
    csv_close(&r);
    CHECK(csv_buf(&r, "a,b\n1,ab\"c\n") == 0);
    CHECK(csv_next(&r) == -1 && has_error("line 2") && has_error("quote inside"));
    csv_close(&r);
    CHECK(csv_buf(&r, "a,b\n1,\"ab\"c\n") == 0);
    CHECK(csv_next(&r) == -1 && has_error("after a closing quote"));
    csv_close(&r);
    CHECK(csv_buf(&r, "a,b\n\"x\ny\",1\n2,3,4\n") == 0);
    CHECK(csv_next(&r) == 1);
    CHECK(csv_next(&r) == -1 && has_error("line 4")); /* line count includes embedded newline */
    csv_close(&r);
    CHECK(csv_buf(&r, "") == -1 && has_error("empty file"));
    CHECK(csv_open(&r, "/nonexistent/x.csv") == -1 && has_error("/nonexistent/x.csv"));
}

static void test_scp(void) {
    PtbxlCode *c;
    int n;
    char err[256];
    CHECK(scp_codes_parse("{'NORM': 100.0, 'LVOLT': 0.0, 'SR': 0.0}", &c, &n, err, sizeof err) == 0);
    CHECK(n == 3 && strcmp(c[0].code, "NORM") == 0 && c[0].likelihood == 100.0f);
    CHECK(strcmp(c[1].code, "LVOLT") == 0 && c[1].likelihood == 0.0f && strcmp(c[2].code, "SR") == 0);
    free(c);
    CHECK(scp_codes_parse("  {\"LAO/LAE\":15,'PRC(S)' : 5e1 }  ", &c, &n, err, sizeof err) == 0);
    CHECK(n == 2 && strcmp(c[0].code, "LAO/LAE") == 0 && c[0].likelihood == 15.0f);
    CHECK(strcmp(c[1].code, "PRC(S)") == 0 && c[1].likelihood == 50.0f);
    free(c);
    CHECK(scp_codes_parse("{}", &c, &n, err, sizeof err) == 0 && n == 0 && c == NULL);
    const char *bad[] = {"",
                         "NORM: 100",
                         "{'NORM' 100.0}",
                         "{'NORM': }",
                         "{'NORM': abc}",
                         "{'NORM': 100.0,}",
                         "{'NORM': 100.0",
                         "{'NORM': 100.0} x",
                         "{'NORM': 101}",
                         "{'NORM': -1}",
                         "{'NORM': 1.0.0}",
                         "{'NORM: 1}",
                         "{'': 1}",
                         "{'NORM': 1, 'NORM': 2}",
                         "{'NORM\": 1}",
                         "{NORM: 1}",
                         "{'A': 1 'B': 2}",
                         "{'ABCDEFGHIJKLMNOPQRSTUVWXYZ': 1}"};
    int nbad = (int)(sizeof bad / sizeof bad[0]), rejected = 0;
    for (int i = 0; i < nbad; i++) {
        err[0] = '\0';
        int rc = scp_codes_parse(bad[i], &c, &n, err, sizeof err);
        CHECKF(rc == -1 && err[0] && c == NULL, "accepted '%s'", bad[i]);
        rejected += rc == -1;
    }
    CHECK(rejected == nbad);
    CHECK(scp_codes_parse("{'NORM': 1, 'NORM': 2}", &c, &n, err, sizeof err) == -1 && strstr(err, "twice"));
}

static int count_code(const PtbxlDb *db, const char *code) {
    int k = 0;
    for (int i = 0; i < db->n; i++) k += ptbxl_record_likelihood(&db->rec[i], code) >= 0;
    return k;
}

static void test_sample_counts(const PtbxlDb *db) {
    CHECK(db->nrows == 500);
    CHECK(db->n == 488);
    CHECK(db->nskipped == 12);
    const int dup[12] = {137, 139, 140, 141, 142, 143, 145, 456, 458, 459, 461, 462};
    int same = db->nskipped == 12;
    for (int i = 0; i < 12 && same; i++)
        same = db->skipped[i].ecg_id == dup[i] && db->skipped[i].reason == PTBXL_SKIP_DUPLICATE;
    CHECK(same);
    int ndup = 0;
    for (int id = 1; id <= 22000; id++) ndup += ptbxl_is_v103_duplicate(id);
    CHECK(ndup == 38);
    CHECK(ptbxl_is_v103_duplicate(11817) && ptbxl_is_v103_duplicate(3801) && !ptbxl_is_v103_duplicate(138));
    CHECK(db->nstatements == 71);
    const PtbxlStatement *st = ptbxl_statement(db, "1AVB");
    CHECK(st && st->diagnostic == 1 && strcmp(st->diagnostic_class, "CD") == 0 &&
          strcmp(st->diagnostic_subclass, "_AVB") == 0 && strcmp(st->description, "first degree AV block") == 0);
    st = ptbxl_statement(db, "SR");
    CHECK(st && st->diagnostic == 0 && st->diagnostic_class[0] == '\0');
    st = ptbxl_statement(db, "BIGU"); /* description with a quoted comma */
    CHECK(st && strcmp(st->description, "bigeminal pattern (unknown origin, SV or Ventricular)") == 0);

    const PtbxlRecord *r = &db->rec[0];
    CHECK(r->ecg_id == 1 && r->patient_id == 15709 && r->sex == 1 && r->strat_fold == 3);
    CHECK(r->age == 56.0f);
    CHECK(strcmp(r->filename_lr, "records100/00000/00001_lr") == 0);
    CHECK(strcmp(r->filename_hr, "records500/00000/00001_hr") == 0);
    CHECK(r->ncodes == 3 && strcmp(r->codes[0].code, "NORM") == 0 && r->codes[0].likelihood == 100.0f);
    CHECK(ptbxl_record_likelihood(r, "SR") == 0.0f && ptbxl_record_likelihood(r, "IMI") == -1.0f);
    CHECK(ptbxl_record_norm_only(db, r));

    /* README: code counts over the 488 records. */
    const char *codes[] = {"1AVB", "2AVB", "3AVB", "CLBBB", "CRBBB", "ILBBB", "IRBBB", "LAFB", "LPFB", "IVCD", "WPW", "NORM"};
    const int want[] = {9, 0, 0, 8, 8, 2, 20, 29, 4, 6, 0, 293};
    for (int i = 0; i < 12; i++) CHECKF(count_code(db, codes[i]) == want[i], "%s: %d", codes[i], count_code(db, codes[i]));

    Task t;
    CHECK(task_parse("heart-block", db, &t) == 0 && t.ncodes == 9);
    const int pos_fold[11] = {0, 9, 7, 4, 4, 9, 7, 6, 6, 8, 11};
    const int norm_fold[11] = {0, 30, 35, 20, 29, 25, 22, 30, 25, 36, 34};
    Cohort c;
    CohortOptions o = cohort_options_default();
    CHECK(o.protocol == PROTOCOL_PAPER && o.rate == 100 && o.min_likelihood == 0 && o.check_files == 1);
    CHECK(cohort_build(db, &t, o, &c) == 0);
    CHECK(c.npos == 71 && c.nneg == 286 && c.n == 357);
    CHECK(c.n_excluded == 488 - 357 && c.n_uncertain == 0);
    CHECK(c.nskipped == 12 && c.nskip_reason[PTBXL_SKIP_DUPLICATE] == 12 && c.nskip_reason[PTBXL_SKIP_MISSING_FILES] == 0);
    int folds_ok = 1;
    for (int f = 1; f <= 10; f++) folds_ok &= c.pos_fold[f] == pos_fold[f] && c.neg_fold[f] == norm_fold[f];
    CHECK(folds_ok);
    const int code_want[9] = {9, 0, 0, 8, 8, 2, 20, 29, 4};
    int codes_ok = 1, union_ok = 1;
    for (int j = 0; j < 9; j++) codes_ok &= c.code_count[j] == code_want[j];
    CHECK(codes_ok);
    /* The binary label is the OR of the per-code labels. */
    for (int i = 0; i < c.n; i++) {
        int any = 0;
        for (int j = 0; j < c.ncodes; j++) any |= c.code_label[i * c.ncodes + j];
        union_ok &= any == c.label[i];
    }
    CHECK(union_ok);
    CHECK(strcmp(c.path[0], SAMPLE_DIR "/records100/00000/00001_lr") == 0 && c.ecg_id[0] == 1 && c.label[0] == 0);
    cohort_free(&c);

    o.protocol = PROTOCOL_ALL;
    CHECK(cohort_build(db, &t, o, &c) == 0);
    CHECK(c.npos == 71 && c.nneg == 417 && c.n == 488 && c.n_excluded == 0);
    folds_ok = 1;
    int sum = 0;
    for (int f = 1; f <= 10; f++) folds_ok &= c.pos_fold[f] == pos_fold[f], sum += c.neg_fold[f];
    CHECK(folds_ok && sum == 417);
    cohort_free(&c);

    /* 500 Hz: the sample has no records500 folder, so every record is skipped as missing. */
    o.rate = 500;
    CHECK(cohort_build(db, &t, o, &c) == 0);
    CHECK(c.n == 0 && c.nskip_reason[PTBXL_SKIP_MISSING_FILES] == 488 && c.nskipped == 500);
    cohort_free(&c);
    o.rate = 100;
    o.check_files = 2; /* every sample header parses and fits */
    CHECK(cohort_build(db, &t, o, &c) == 0);
    CHECK(c.n == 488 && c.nskipped == 12 && c.nskip_reason[PTBXL_SKIP_BAD_RECORD] == 0); /* protocol all */
    cohort_free(&c);
    o.check_files = 1;
    o.rate = 250;
    CHECK(cohort_build(db, &t, o, &c) == -1 && has_error("100 or 500"));
    o.rate = 100;
    o.min_likelihood = 101;
    CHECK(cohort_build(db, &t, o, &c) == -1);

    /* min_likelihood: a code counts only at or above the threshold; records carrying a task
     * code only below it are left out (n_uncertain). Checked against a direct count. */
    o = cohort_options_default();
    o.protocol = PROTOCOL_ALL;
    o.min_likelihood = 100;
    int want_pos = 0, want_unc = 0;
    for (int i = 0; i < db->n; i++) {
        int pos = 0, present = 0;
        for (int j = 0; j < t.ncodes; j++) {
            float lk = ptbxl_record_likelihood(&db->rec[i], t.codes[j]);
            present |= lk >= 0;
            pos |= lk >= 100;
        }
        want_pos += pos;
        want_unc += present && !pos;
    }
    CHECK(cohort_build(db, &t, o, &c) == 0);
    CHECKF(c.npos == want_pos && c.n_uncertain == want_unc && want_unc > 0 && want_pos < 71,
           "pos %d/%d uncertain %d/%d", c.npos, want_pos, c.n_uncertain, want_unc);
    CHECK(c.n + c.nskipped + c.n_uncertain + c.n_excluded == 500);
    cohort_free(&c);
}

static void test_tasks(const PtbxlDb *db) {
    Task t;
    CHECK(task_parse("avb", db, &t) == 0 && t.ncodes == 3 && strcmp(t.codes[0], "1AVB") == 0);
    CHECK(task_parse("bbb", db, &t) == 0 && t.ncodes == 4 && strcmp(t.codes[3], "IRBBB") == 0);
    CHECK(task_parse("fascicular", db, &t) == 0 && t.ncodes == 2 && strcmp(t.name, "fascicular") == 0);
    CHECK(task_parse("Heart-Block", db, &t) == 0 && strcmp(t.name, "heart-block") == 0);
    CHECK(task_parse("cd", db, &t) == 0 && t.ncodes == 11);
    int all_cd = 1;
    for (int j = 0; j < t.ncodes; j++) {
        const PtbxlStatement *st = ptbxl_statement(db, t.codes[j]);
        all_cd &= st && st->diagnostic && strcmp(st->diagnostic_class, "CD") == 0;
    }
    CHECK(all_cd);
    CHECK(task_parse("1avb, LAFB", db, &t) == 0 && t.ncodes == 2 && strcmp(t.codes[0], "1AVB") == 0);
    CHECK(strcmp(t.name, "1AVB,LAFB") == 0);
    CHECK(task_parse("lao/lae", db, &t) == 0 && strcmp(t.codes[0], "LAO/LAE") == 0);
    CHECK(task_parse("1AVB,XYZ", db, &t) == -1 && has_error("'XYZ'") && has_error("LAFB") && has_error("heart-block"));
    CHECK(task_parse("1AVB,,LAFB", db, &t) == -1 && has_error("empty"));
    CHECK(task_parse("1AVB,1avb", db, &t) == -1 && has_error("twice"));
    CHECK(task_parse("", db, &t) == -1);
    CHECK(TASK_NAMES[0] && strcmp(TASK_NAMES[0], "heart-block") == 0);
    CohortProtocol p;
    CHECK(protocol_parse("all", &p) == 0 && p == PROTOCOL_ALL && strcmp(protocol_name(p), "all") == 0);
    CHECK(protocol_parse("paper", &p) == 0 && p == PROTOCOL_PAPER);
    CHECK(protocol_parse("some", &p) == -1);
}

static void test_splits(const PtbxlDb *db) {
    Task t;
    Cohort c;
    CHECK(task_parse("heart-block", db, &t) == 0);
    CHECK(cohort_build(db, &t, cohort_options_default(), &c) == 0);
    int *tr = xmalloc((size_t)c.n * sizeof(int)), *va = xmalloc((size_t)c.n * sizeof(int));
    int *te = xmalloc((size_t)c.n * sizeof(int)), ntr, nva, nte;
    /* Official: folds 1-8 train, 9 validation, 10 test (README per-fold counts). */
    CHECK(cohort_split(&c, 10, 9, tr, &ntr, va, &nva, te, &nte) == 0);
    CHECK(nte == 11 + 34 && nva == 8 + 36 && ntr == c.n - nte - nva);
    int ok = 1;
    for (int i = 0; i < ntr; i++) ok &= c.fold[tr[i]] <= 8 && (i == 0 || tr[i] > tr[i - 1]);
    CHECK(ok);
    CHECK(cohort_split(&c, 10, 0, tr, &ntr, va, &nva, te, &nte) == 0 && nva == 0 && ntr + nte == c.n);
    CHECK(cohort_split(&c, 10, 10, tr, &ntr, va, &nva, te, &nte) == -1);
    CHECK(cohort_split(&c, 0, 9, tr, &ntr, va, &nva, te, &nte) == -1);
    CHECK(cohort_split(&c, 11, 9, tr, &ntr, va, &nva, te, &nte) == -1);

    /* k-fold: each round partitions the cohort; over 10 rounds each record is tested once. */
    int *tested = xcalloc((size_t)c.n, sizeof(int)), partition_ok = 1, folds_ok = 1;
    int *seen = xmalloc((size_t)c.n * sizeof(int));
    for (int k = 1; k <= 10; k++) {
        int tf, vf;
        kfold_folds(k, &tf, &vf);
        folds_ok &= tf == k && vf == (k == 10 ? 1 : k + 1);
        CHECK(cohort_split(&c, tf, vf, tr, &ntr, va, &nva, te, &nte) == 0);
        memset(seen, 0, (size_t)c.n * sizeof(int));
        for (int i = 0; i < ntr; i++) seen[tr[i]]++, partition_ok &= c.fold[tr[i]] != tf && c.fold[tr[i]] != vf;
        for (int i = 0; i < nva; i++) seen[va[i]]++, partition_ok &= c.fold[va[i]] == vf;
        for (int i = 0; i < nte; i++) seen[te[i]]++, tested[te[i]]++, partition_ok &= c.fold[te[i]] == tf;
        for (int i = 0; i < c.n; i++) partition_ok &= seen[i] == 1;
    }
    CHECK(folds_ok);
    CHECK(partition_ok);
    int once = 1;
    for (int i = 0; i < c.n; i++) once &= tested[i] == 1;
    CHECK(once);

    /* Label-fraction subsets of the official training folds (62 pos... counted below). */
    CHECK(cohort_split(&c, 10, 9, tr, &ntr, va, &nva, te, &nte) == 0);
    int npos = 0;
    for (int i = 0; i < ntr; i++) npos += c.label[tr[i]];
    int nneg = ntr - npos;
    CHECK(npos == 71 - 19 && nneg == 286 - 70);
    int *s1 = xmalloc((size_t)ntr * sizeof(int)), *s2 = xmalloc((size_t)ntr * sizeof(int)), n1, n2;
    const double fr[] = {0.01, 0.05, 0.1, 0.25, 0.5, 1.0};
    int strat_ok = 1, nested_ok = 1, order_ok = 1, det_ok = 1;
    int *prev = NULL, nprev = 0;
    for (int f = 0; f < 6; f++) {
        CHECK(subset_label_fraction(&c, tr, ntr, fr[f], 42, s1, &n1) == 0);
        CHECK(subset_label_fraction(&c, tr, ntr, fr[f], 42, s2, &n2) == 0);
        det_ok &= n1 == n2 && memcmp(s1, s2, (size_t)n1 * sizeof(int)) == 0;
        int p = 0;
        for (int i = 0; i < n1; i++) p += c.label[s1[i]];
        int wp = (int)(fr[f] * npos + 0.5), wn = (int)(fr[f] * nneg + 0.5);
        if (wp < 1) wp = 1;
        if (wn < 1) wn = 1;
        strat_ok &= p == wp && n1 - p == wn;
        for (int i = 1; i < n1; i++) order_ok &= s1[i] > s1[i - 1];
        /* nested: every member of the smaller subset is in this one */
        for (int i = 0; i < nprev; i++) {
            int found = 0;
            for (int j = 0; j < n1 && !found; j++) found = s1[j] == prev[i];
            nested_ok &= found;
        }
        free(prev);
        prev = xmalloc((size_t)(n1 ? n1 : 1) * sizeof(int));
        memcpy(prev, s1, (size_t)n1 * sizeof(int));
        nprev = n1;
    }
    free(prev);
    CHECK(strat_ok);
    CHECK(nested_ok);
    CHECK(order_ok);
    CHECK(det_ok);
    CHECK(n1 == ntr && memcmp(s1, tr, (size_t)ntr * sizeof(int)) == 0); /* fraction 1 = all */
    /* 1%: at least one of each class survives. */
    CHECK(subset_label_fraction(&c, tr, ntr, 0.001, 7, s1, &n1) == 0 && n1 == 2 && c.label[s1[0]] != c.label[s1[1]]);
    CHECK(subset_label_fraction(&c, tr, ntr, 0.25, 1, s1, &n1) == 0);
    CHECK(subset_label_fraction(&c, tr, ntr, 0.25, 2, s2, &n2) == 0);
    CHECK(n1 == n2 && memcmp(s1, s2, (size_t)n1 * sizeof(int)) != 0); /* seeds differ */
    CHECK(subset_label_fraction(&c, tr, ntr, 0.0, 1, s1, &n1) == -1);
    CHECK(subset_label_fraction(&c, tr, ntr, 1.5, 1, s1, &n1) == -1);
    CHECK(subset_label_fraction(&c, tr, 0, 0.5, 1, s1, &n1) == 0 && n1 == 0);
    int badidx = c.n;
    CHECK(subset_label_fraction(&c, &badidx, 1, 0.5, 1, s1, &n1) == -1);
    free(s1);
    free(s2);
    free(tested);
    free(seen);
    free(tr);
    free(va);
    free(te);
    cohort_free(&c);
}

/* A throwaway PTB-XL folder: the sample's scp_statements.csv plus a given database csv. */
static void put(const char *dir, const char *name, const char *text) {
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    KRES_ASSERT(write_file_atomic(p, text, strlen(text)) == 0);
}

static void test_bad_dirs(void) {
    PtbxlDb db;
    CHECK(ptbxl_open("/nonexistent/ptbxl", &db) == -1 && has_error("/nonexistent/ptbxl"));
    char dir[] = "/tmp/kres_test_ptbxl_XXXXXX";
    KRES_ASSERT(mkdtemp(dir));
    size_t n;
    char *stm = read_file_all(SAMPLE_DIR "/scp_statements.csv", &n);
    KRES_ASSERT(stm);
    CHECK(ptbxl_open(dir, &db) == -1 && has_error("scp_statements.csv"));
    put(dir, "scp_statements.csv", stm);
    free(stm);
    CHECK(ptbxl_open(dir, &db) == -1 && has_error("ptbxl_database.csv") && has_error("cannot open"));

    const char *hdr = "ecg_id,scp_codes,patient_id,age,sex,strat_fold,filename_hr,filename_lr\n";
    char text[2048];
    /* Columns in another order; record 2 has files, record 3 does not, 137 is a duplicate. */
    snprintf(text, sizeof text, "%s"
             "2,\"{'1AVB': 50.0, 'SR': 0.0}\",7.0,70.0,0,1,r/2_hr,r/2_lr\r\n"
             "3,\"{'NORM': 100.0}\",8.0,,1,2,r/3_hr,r/3_lr\r\n"
             "137,\"{'NORM': 100.0}\",9.0,40,1,2,r/137_hr,r/137_lr\r\n", hdr);
    put(dir, "ptbxl_database.csv", text);
    char sub[600];
    snprintf(sub, sizeof sub, "%s/r", dir);
    mkdir(sub, 0700);
    put(dir, "r/2_lr.hea", "x");
    put(dir, "r/2_lr.dat", "x");
    put(dir, "r/3_lr.hea", "x"); /* .dat missing */
    CHECK(ptbxl_open(dir, &db) == 0);
    CHECK(db.nrows == 3 && db.n == 2 && db.nskipped == 1 && db.skipped[0].ecg_id == 137);
    CHECK(db.rec[1].sex == 1 && db.rec[1].age != db.rec[1].age); /* missing age is NaN */
    Task t;
    Cohort c;
    CHECK(task_parse("avb", &db, &t) == 0);
    CHECK(cohort_build(&db, &t, cohort_options_default(), &c) == 0);
    CHECK(c.n == 1 && c.ecg_id[0] == 2 && c.label[0] == 1 && c.nskip_reason[PTBXL_SKIP_MISSING_FILES] == 1);
    CHECK(c.nskipped == 2 && c.skipped[1].ecg_id == 3 && c.skipped[1].reason == PTBXL_SKIP_MISSING_FILES);
    CHECK(strcmp(ptbxl_skip_reason_name(c.skipped[1].reason), "missing-files") == 0);
    cohort_free(&c);
    CohortOptions o = cohort_options_default();
    o.check_files = 0;
    CHECK(cohort_build(&db, &t, o, &c) == 0 && c.n == 2 && c.nskipped == 1);
    cohort_free(&c);
    /* check_files 2 reads headers: "x" is no WFDB header; then a real header with a .dat
     * that is too short, then the same with the full .dat. */
    o.check_files = 2;
    CHECK(cohort_build(&db, &t, o, &c) == 0 && c.n == 0 && c.nskip_reason[PTBXL_SKIP_BAD_RECORD] == 1);
    CHECK(c.nskipped == 3 && c.skipped[1].ecg_id == 2 && strstr(c.skipped[1].detail, "2_lr.hea"));
    cohort_free(&c);
    char *hea = read_file_all(SAMPLE_DIR "/records100/00000/00001_lr.hea", &n);
    char *dat = read_file_all(SAMPLE_DIR "/records100/00000/00001_lr.dat", &n);
    KRES_ASSERT(hea && dat && n == 24000);
    char *p1 = strstr(hea, "00001_lr.dat");
    while (p1) { /* point the signal lines at 2_lr.dat */
        memcpy(p1, "    2_lr.dat", 12);
        p1 = strstr(p1, "00001_lr.dat");
    }
    put(dir, "r/2_lr.hea", hea);
    snprintf(text, sizeof text, "%s/r/2_lr.dat", dir);
    CHECK(write_file_atomic(text, dat, 1000) == 0);
    CHECK(cohort_build(&db, &t, o, &c) == 0 && c.n == 0 && c.nskip_reason[PTBXL_SKIP_BAD_RECORD] == 1);
    CHECK(c.nskipped == 3 && strstr(c.skipped[1].detail, "1000 bytes"));
    cohort_free(&c);
    CHECK(write_file_atomic(text, dat, n) == 0);
    CHECK(cohort_build(&db, &t, o, &c) == 0 && c.n == 1 && c.nskip_reason[PTBXL_SKIP_BAD_RECORD] == 0);
    cohort_free(&c);
    o.rate = 500; /* no r/2_hr files */
    CHECK(cohort_build(&db, &t, o, &c) == 0 && c.n == 0 && c.nskip_reason[PTBXL_SKIP_MISSING_FILES] == 2);
    cohort_free(&c);
    free(hea);
    free(dat);
    ptbxl_close(&db);

    /* Errors name the file and the line. */
    struct {
        const char *row, *needle;
    } bad[] = {
        {"2,\"{'1AVB': 50.0, 'SR' 0.0}\",7.0,70.0,0,1,r/2_hr,r/2_lr\n", "line 2: scp_codes"},
        {"2,\"{'1AVB': 50.0}\",7.0,70.0,0,11,r/2_hr,r/2_lr\n", "line 2: strat_fold"},
        {"x,\"{'1AVB': 50.0}\",7.0,70.0,0,1,r/2_hr,r/2_lr\n", "line 2: ecg_id"},
        {"2,\"{'1AVB': 50.0}\",7.0,70.0,2,1,r/2_hr,r/2_lr\n", "line 2: sex"},
        {"2,\"{'1AVB': 50.0}\",7.0,70.0,0,1,../2_hr,r/2_lr\n", "line 2: filename_hr"},
        {"2,\"{'1AVB': 50.0}\",7.0,70.0,0,1,r/2_hr\n", "line 2: 7 fields"},
        {"2,\"{}\",7.0,70.0,0,1,a,b\n2,\"{}\",7.0,70.0,0,1,a,b\n", "ecg_id 2 appears"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(text, sizeof text, "%s%s", hdr, bad[i].row);
        put(dir, "ptbxl_database.csv", text);
        CHECKF(ptbxl_open(dir, &db) == -1 && has_error("ptbxl_database.csv") && has_error(bad[i].needle),
               "case %zu: %s", i, kres_last_error());
    }
    put(dir, "ptbxl_database.csv", "ecg_id,patient_id,age,sex,filename_lr,filename_hr,scp_codes\n");
    CHECK(ptbxl_open(dir, &db) == -1 && has_error("ptbxl_database.csv") && has_error("'strat_fold'"));
    put(dir, "ptbxl_database.csv", hdr);
    CHECK(ptbxl_open(dir, &db) == -1 && has_error("no data rows"));

    char p[600];
    const char *names[] = {"ptbxl_database.csv", "scp_statements.csv", "r/2_lr.hea", "r/2_lr.dat", "r/3_lr.hea"};
    for (int i = 0; i < 5; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, names[i]);
        unlink(p);
    }
    rmdir(sub);
    rmdir(dir);
}

int main(void) {
    test_csv();
    test_scp();
    PtbxlDb db;
    int rc = ptbxl_open(SAMPLE_DIR, &db);
    CHECKF(rc == 0, "%s", kres_last_error());
    if (rc == 0) {
        test_sample_counts(&db);
        test_tasks(&db);
        test_splits(&db);
        ptbxl_close(&db);
    }
    test_bad_dirs();
    /* The shared 500 Hz tree (when present): same cohort, every header parses at 500 Hz. */
    struct stat st;
    if (stat(SHARED_PTBXL "/records500", &st) == 0 && ptbxl_open(SHARED_PTBXL, &db) == 0) {
        Task t;
        Cohort c;
        CohortOptions o = cohort_options_default();
        o.rate = 500;
        o.check_files = 2;
        CHECK(task_parse("heart-block", &db, &t) == 0);
        CHECK(cohort_build(&db, &t, o, &c) == 0);
        CHECKF(c.n == 357 && c.npos == 71 && c.nskipped == 12, "n %d skipped %d", c.n, c.nskipped);
        CHECK(c.n > 0 && strstr(c.path[0], "records500/00000/00001_hr"));
        cohort_free(&c);
        ptbxl_close(&db);
    }
    TEST_MAIN_END();
}
