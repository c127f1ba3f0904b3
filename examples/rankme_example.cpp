// RankMe and a worst-k accuracy report from C++, with RAII over the C handles.
// Build against the installed library:
//   c++ rankme_example.cpp $(pkg-config --cflags --libs sslkit) -o rankme_example_cpp
// SPDX-License-Identifier: BSD-3-Clause
#include <sslkit/sslkit.h>

#include <cstdio>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

void check(sslk_status s, const char *what) {
    if (s != SSLK_OK) throw std::runtime_error(std::string(what) + ": " + sslk_status_str(s) + ": " + sslk_last_error());
}

struct CtxDeleter {
    void operator()(sslk_ctx *c) const { sslk_ctx_destroy(c); }
};
struct AccDeleter {
    void operator()(sslk_rankme_acc *a) const { sslk_rankme_destroy(a); }
};

}  // namespace

int main() {
    try {
        sslk_ctx *raw = nullptr;
        check(sslk_ctx_create(&raw), "sslk_ctx_create");
        std::unique_ptr<sslk_ctx, CtxDeleter> ctx(raw);

        // Streaming RankMe over a diagonal matrix diag(2, 1, 1), eps = 0: 2 * sqrt(2).
        sslk_rankme_acc *a = nullptr;
        check(sslk_rankme_create(ctx.get(), 3, &a), "sslk_rankme_create");
        std::unique_ptr<sslk_rankme_acc, AccDeleter> acc(a);
        check(sslk_rankme_set_f64(acc.get(), SSLK_RANKME_EPS, 0.0), "set eps");
        std::vector<float> z = {2, 0, 0, 0, 1, 0, 0, 0, 1};
        check(sslk_rankme_update(acc.get(), z.data(), 3), "sslk_rankme_update");
        double v = 0;
        check(sslk_rankme_compute(acc.get(), &v, nullptr), "sslk_rankme_compute");
        std::printf("rankme diag(2,1,1) eps=0 = %.9f\n", v);

        // Per-class accuracies 0.9, 0.5, 0.7, 0.2 (10 samples each): worst-2 = 0.35.
        std::vector<int32_t> labels, pred;
        const int correct[4] = {9, 5, 7, 2};
        for (int c = 0; c < 4; c++)
            for (int i = 0; i < 10; i++) {
                labels.push_back(c);
                pred.push_back(i < correct[c] ? c : (c + 1) % 4);
            }
        sslk_accuracy_summary s{};
        s.struct_size = sizeof s;
        std::vector<int32_t> worst(2), best(2);
        check(sslk_accuracy_report(ctx.get(), pred.data(), labels.data(), labels.size(), 4, nullptr, 0, 2, nullptr,
                                   nullptr, &s, nullptr, nullptr, worst.data(), best.data(), nullptr, nullptr),
              "sslk_accuracy_report");
        std::printf("accuracy %.4f worst-2 %.4f (classes %d %d) best-2 %.4f\n", s.accuracy, s.worst_k, worst[0],
                    worst[1], s.best_k);
    } catch (const std::exception &e) {
        std::fprintf(stderr, "%s\n", e.what());
        return 1;
    }
    return 0;
}
