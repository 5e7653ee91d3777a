// kiln train: train a GPT on token or text data (CPU backend, or CUDA with --backend cuda).
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <optional>

#include "corpus/error.h"
#include "curate/cli/backend_flags.h"
#include "curate/cli/common.h"
#include "curate/cli/verb.h"
#include "trainer/codec.h"
#include "trainer/store_batches.h"
#include "trainer/train.h"

namespace kiln::cli {
namespace {

int run_train(const std::vector<std::string>& args) {
  using namespace kiln::trainer;
  po::options_description options("options");
  options.add_options()
      ("data", po::value<std::string>(), "training data: a token store from kiln pack (its val split is used for validation), a .bin token file (nanoGPT uint16 or llm.c shard), or text (byte-level)")
      ("sft", po::value<std::string>(), "supervised fine-tuning instead: JSONL with \"prompt\" and \"response\"; loss on responses only")
      ("sft-end-token", po::value<int>()->default_value(-1), "token appended to each SFT response and trained on (-1 = none)")
      ("tokenizer", po::value<std::string>(), "tokenizer for text data: HF tokenizer.json or tiktoken ranks (default: byte-level); sets the default --vocab-size")
      ("val", po::value<std::string>(), "validation data (same formats); default: the last --val-fraction of --data")
      ("val-fraction", po::value<double>()->default_value(0.1), "share of --data held out for validation when --val is absent (0 = none)")
      ("config", po::value<std::string>(), "model TOML ([model] n_layer, n_head, n_embd, block_size, vocab_size, position, norm); flags below override it")
      ("n-layer", po::value<int>(), "layers (default 4)")
      ("n-head", po::value<int>(), "attention heads (default 4)")
      ("n-embd", po::value<int>(), "channels (default 128)")
      ("block-size", po::value<int>(), "context length (default 64)")
      ("vocab-size", po::value<int>(), "vocabulary (default: the tokenizer's or the token store's, 256 for byte-level text; padded to a multiple of 64)")
      ("position", po::value<std::string>(), "learned | rope (default learned)")
      ("norm", po::value<std::string>(), "layernorm | rmsnorm (default layernorm)")
      ("init", po::value<std::string>(), "start from this checkpoint's weights (kiln or llm.c): fine-tuning")
      ("resume", po::value<std::string>(), "continue the run saved in this kiln checkpoint (bit-exact)")
      ("batch-size,b", po::value<int>()->default_value(12), "sequences per micro-step (B)")
      ("seq-len,t", po::value<int>(), "tokens per sequence (T; default block size)")
      ("grad-accum", po::value<int>()->default_value(1), "micro-steps per optimizer step")
      ("steps", po::value<int>()->default_value(2000), "optimizer steps")
      ("lr", po::value<float>()->default_value(1e-3f), "peak learning rate")
      ("min-lr", po::value<float>(), "final learning rate of the cosine decay (default lr/10)")
      ("warmup", po::value<int>()->default_value(100), "linear warmup steps")
      ("weight-decay", po::value<float>()->default_value(0.1f), "AdamW decoupled weight decay (matmul weights only)")
      ("beta2", po::value<float>()->default_value(0.99f), "AdamW beta2")
      ("grad-clip", po::value<float>()->default_value(1.0f), "clip the global gradient norm to this (0 = off)")
      ("seed", po::value<uint64_t>()->default_value(1337), "seed for initialization, data order and masking")
      ("order", po::value<std::string>()->default_value("random"), "random (nanoGPT windows) | sequential (llm.c)")
      ("objective", po::value<std::string>()->default_value("next-token"), "next-token | masked-lm")
      ("val-every", po::value<int>()->default_value(250), "steps between validation losses (0 = end only)")
      ("val-batches", po::value<int>()->default_value(20), "batches per validation loss")
      ("checkpoint-every", po::value<int>()->default_value(0), "steps between checkpoints (0 = end only)")
      ("output,o", po::value<std::string>()->default_value("model.kiln"), "kiln checkpoint to write")
      ("llmc", po::value<std::string>(), "also write an llm.c model file here at the end")
      ("log", po::value<std::string>(), "training log: .csv or .jsonl")
      ("print-every", po::value<int>()->default_value(10), "steps between progress lines")
      ("zero1", po::bool_switch(), "under mpirun: shard AdamW's state over the ranks (ZeRO stage 1)")
      ("threads,j", po::value<int>()->default_value(0), "CPU threads (0 = all cores)");
  add_backend_flags(options);
  add_document_mask_flags(options);
  po::positional_options_description positional;
  auto parsed = parse_args(args, options, positional, "kiln train (--data FILE | --sft FILE) [options]",
                           "kiln train --data tinyshakespeare.txt --steps 2000 -o shakespeare.kiln --log train.csv");
  if (parsed.help) return 0;
  auto& v = parsed.values;

  TrainOptions o;
  o.model = {.max_seq_len = 64, .vocab_size = 256, .num_layers = 4, .num_heads = 4, .channels = 128};
  const TextCodec codec = load_codec(v.count("tokenizer") ? v["tokenizer"].as<std::string>() : "");
  o.model.vocab_size = codec.vocab_size;
  // A token store is streamed (StoreBatchSource) rather than read into memory. Its manifest
  // names the tokenizer's vocabulary (the default for a model trained on it) and EOT.
  std::optional<TokenStore> store;
  if (v.count("data") && is_token_store(v["data"].as<std::string>())) store = TokenStore::open(v["data"].as<std::string>());
  if (store && !v.count("tokenizer")) o.model.vocab_size = (int)store->manifest().tokenizer.vocab_size;
  if (v.count("config")) read_model_config(v["config"].as<std::string>(), o.model);
  if (v.count("n-layer")) o.model.num_layers = v["n-layer"].as<int>();
  if (v.count("n-head")) o.model.num_heads = v["n-head"].as<int>();
  if (v.count("n-embd")) o.model.channels = v["n-embd"].as<int>();
  if (v.count("block-size")) o.model.max_seq_len = v["block-size"].as<int>();
  if (v.count("vocab-size")) o.model.vocab_size = v["vocab-size"].as<int>();
  if (v.count("position")) {
    const auto p = v["position"].as<std::string>();
    if (p != "learned" && p != "rope") throw Error("--position must be learned or rope");
    o.model.position = p == "rope" ? PositionEncoding::kRope : PositionEncoding::kLearned;
  }
  if (v.count("norm")) {
    const auto n = v["norm"].as<std::string>();
    if (n != "layernorm" && n != "rmsnorm") throw Error("--norm must be layernorm or rmsnorm");
    o.model.norm = n == "rmsnorm" ? NormKind::kRmsNorm : NormKind::kLayerNorm;
  }
  if (v.count("init")) o.init_checkpoint = v["init"].as<std::string>();
  if (v.count("resume")) o.resume_checkpoint = v["resume"].as<std::string>();
  o.batch_size = v["batch-size"].as<int>();
  o.seq_len = v.count("seq-len") ? v["seq-len"].as<int>() : o.model.max_seq_len;
  o.grad_accum_steps = v["grad-accum"].as<int>();
  o.max_steps = v["steps"].as<int>();
  o.lr.max_lr = v["lr"].as<float>();
  o.lr.min_lr = v.count("min-lr") ? v["min-lr"].as<float>() : o.lr.max_lr / 10;
  o.lr.warmup_steps = v["warmup"].as<int>();
  o.adamw.weight_decay = v["weight-decay"].as<float>();
  o.adamw.beta2 = v["beta2"].as<float>();
  o.adamw.grad_clip = v["grad-clip"].as<float>();
  o.seed = v["seed"].as<uint64_t>();
  const auto order = v["order"].as<std::string>();
  if (order != "random" && order != "sequential") throw Error("--order must be random or sequential");
  o.data_order = order == "random" ? DataOrder::kRandom : DataOrder::kSequential;
  const auto objective = v["objective"].as<std::string>();
  if (objective != "next-token" && objective != "masked-lm") throw Error("--objective must be next-token or masked-lm");
  o.objective = objective == "masked-lm" ? Objective::kMaskedLM : Objective::kNextToken;
  o.val_every = v["val-every"].as<int>();
  o.val_batches = v["val-batches"].as<int>();
  o.checkpoint_every = v["checkpoint-every"].as<int>();
  o.checkpoint_path = v["output"].as<std::string>();
  if (v.count("llmc")) o.llmc_path = v["llmc"].as<std::string>();
  if (v.count("log")) o.log_path = v["log"].as<std::string>();
  o.threads = v["threads"].as<int>();
  o.make_backend = backend_factory(v);
  // Under mpirun every rank trains on its slice of the global batch (-b is per rank).
  if (kernels::launched_under_mpi()) {
    auto mpi = kernels::make_mpi_communicator();
    if (v["backend"].as<std::string>() == "cuda" && kernels::nccl_compiled())
      o.communicator = kernels::make_nccl_communicator(std::move(mpi));
    else
      o.communicator = std::move(mpi);
  }
  const bool leader = !o.communicator || o.communicator->rank() == 0;
  o.shard_optimizer = v["zero1"].as<bool>();

  if (!v.count("data") == !v.count("sft")) throw Error("give exactly one of --data and --sft");
  const bool from_store = store.has_value();
  auto all = v.count("data") && !from_store ? load_tokens(v["data"].as<std::string>(), codec.encode)
                                            : std::make_unique<TokenArray>(std::vector<int32_t>{});
  o.end_of_document = explicit_end_of_document(v);
  if (v["mask-documents"].as<bool>()) {
    if (v.count("sft")) throw Error("--mask-documents is for packed --data; SFT rows hold one example each");
    if (o.end_of_document < 0 && store) o.end_of_document = (int32_t)store->manifest().tokenizer.eot;
    if (o.end_of_document < 0) o.end_of_document = codec.eot;  // token files made with this tokenizer
    if (o.end_of_document < 0) throw Error("--mask-documents needs --eot: the token that ends each document of --data");
  }
  std::unique_ptr<TokenArray> train_tokens, val_tokens;
  if (v.count("sft")) {
    if (v.count("val")) val_tokens = load_tokens(v["val"].as<std::string>(), codec.encode);
  } else if (v.count("val")) {
    train_tokens = std::move(all);
    val_tokens = load_tokens(v["val"].as<std::string>(), codec.encode);
  } else if (from_store) {
    // A packed store brings its own validation split (by document hash).
    train_tokens = std::move(all);
    auto val = open_token_store(v["data"].as<std::string>() + ":val");
    if (val->size() > 0) val_tokens = std::move(val);
  } else if (v["val-fraction"].as<double>() > 0) {
    auto [t, val] = split_tokens(*all, v["val-fraction"].as<double>());
    train_tokens = std::make_unique<TokenArray>(std::move(t));
    val_tokens = std::make_unique<TokenArray>(std::move(val));
  } else {
    train_tokens = std::move(all);
  }
  const int print_every = std::max(1, v["print-every"].as<int>());
  const bool tty = ::isatty(2);
  auto report = [&](const TrainProgress& p) {
    if (p.step % print_every && p.val_loss < 0 && p.step != p.max_steps) return;
    char val[32] = "";
    if (p.val_loss >= 0) std::snprintf(val, sizeof val, " | val %.4f", p.val_loss);
    std::fprintf(stderr, "%sstep %llu/%llu | loss %.4f%s | lr %.2e | norm %.2f | %.0f tok/s | ETA %s%s",
                 tty ? "\r\033[K" : "", (unsigned long long)p.step, (unsigned long long)p.max_steps, p.loss, val, p.lr,
                 p.grad_norm, p.tokens_per_second, format_duration(p.eta_seconds).c_str(),
                 !tty || p.val_loss >= 0 || p.step == p.max_steps ? "\n" : "");
  };
  TrainResult r;
  const int world = o.communicator ? o.communicator->size() : 1;  // -b is per rank
  if (v.count("sft")) {
    auto examples = read_sft_jsonl(v["sft"].as<std::string>(), codec.encode);
    if (leader) std::fprintf(stderr, "kiln train: %zu SFT examples\n", examples.size());
    r = train(o,
              std::make_unique<SftLoader>(std::move(examples),
                                          SftLoaderOptions{.batch_size = o.batch_size * world, .seq_len = o.seq_len,
                                                           .order = o.data_order, .seed = o.seed,
                                                           .end_token = v["sft-end-token"].as<int>()}),
              val_tokens.get(), report);
  } else {
    const uint64_t train_size =
        store ? store->num_tokens(Split::kTrain) : train_tokens->size();
    if (leader) std::fprintf(stderr, "kiln train: %llu training tokens, %llu validation tokens\n",
                 (unsigned long long)train_size, val_tokens ? (unsigned long long)val_tokens->size() : 0ULL);
    if (from_store) {
      // Stream windows in the store's seeded order; its cursor goes into checkpoints.
      r = train(o,
                std::make_unique<StoreBatchSource>(v["data"].as<std::string>(), o.batch_size * world, o.seq_len, o.seed,
                                                   o.data_order == DataOrder::kRandom),
                val_tokens.get(), report);
    } else {
      r = train(o, *train_tokens, val_tokens.get(), report);
    }
  }
  if (!leader) return 0;
  if (o.communicator)
    std::printf("data parallel: %d ranks (%s%s)\n", o.communicator->size(), o.communicator->name(),
                o.shard_optimizer ? ", ZeRO-1" : "");
  std::printf("steps %llu, final loss %.4f", (unsigned long long)r.steps, r.final_loss);
  if (r.val_loss >= 0) std::printf(", val loss %.4f", r.val_loss);
  std::printf(", %.1f s, %.0f tokens/s; checkpoint %s\n", r.seconds, r.tokens / std::max(r.seconds, 1e-9),
              o.checkpoint_path.c_str());
  return 0;
}

const VerbRegistration kTrain{{"train", "train a GPT on token or text data (CPU, CUDA; data-parallel under mpirun)", run_train}};

}  // namespace
}  // namespace kiln::cli
