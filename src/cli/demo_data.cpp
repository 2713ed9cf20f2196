// Demo traces: twelve hand-written problem templates, five number sets each. A third of the
// answers contain an arithmetic slip that the trace does not catch (is_correct false); some are
// R1-style with a <think> part.
#include "cli/demo_data.h"

#include <functional>
#include <vector>

#include "io/json.h"

namespace lsc::cli {

namespace {

struct Trace {
  std::string query, answer;
  int level;
  bool correct;
};

std::string s(long v) { return std::to_string(v); }

// Each template gets (a, b, variant, slip) and returns a trace; slip = introduce an error.
using Make = std::function<Trace(long a, long b, int v, bool slip)>;

std::vector<Make> templates() {
  std::vector<Make> t;
  t.push_back([](long a, long b, int, bool slip) {
    const long r = a + b + (slip ? 1 : 0);
    return Trace{"Tom has " + s(a) + " apples and buys " + s(b) + " more. How many apples does he have now?",
                 "We add the two amounts: " + s(a) + " + " + s(b) + " = " + s(r) + ". So Tom has " + s(r) +
                     " apples. Therefore, the answer is " + s(r) + ".",
                 1, !slip};
  });
  t.push_back([](long a, long b, int, bool slip) {
    const long r = a * b - (slip ? 2 : 0);
    return Trace{"A box holds " + s(a) + " pencils. How many pencils are in " + s(b) + " boxes?",
                 "Each box has " + s(a) + " pencils, so " + s(b) + " boxes have " + s(a) + " × " + s(b) + " = " + s(r) +
                     " pencils. Let me check: " + s(b) + " × " + s(a) + " is also " + s(r) + ". So the answer is " +
                     s(r) + ".",
                 1, !slip};
  });
  t.push_back([](long a, long b, int, bool slip) {
    const long n = a * 10, p = b * 5, r = n * p / 100 + (slip ? 5 : 0);
    return Trace{"What is " + s(p) + "% of " + s(n) + "?",
                 "Let me compute " + s(p) + "% of " + s(n) + ". That is " + s(p) + "/100 × " + s(n) + " = " + s(r) +
                     ". Wait, let me check that again: " + s(n) + " × " + s(p) + " = " + s(n * p) +
                     ", and dividing by 100 gives " + s(r) + ". Therefore, the answer is " + s(r) + ".",
                 2, !slip};
  });
  t.push_back([](long a, long b, int v, bool slip) {
    const long speed = a + 20, hours = b % 5 + 2, r = speed * hours + (slip ? 10 : 0);
    std::string ans = "Distance is speed times time: " + s(speed) + " × " + s(hours) + " = " + s(r) + " km.";
    if (v % 2) ans += " Hmm, the units are km per hour and hours, so the result is in km. Good.";
    ans += " So the train travels " + s(r) + " km.";
    return Trace{"A train travels at " + s(speed) + " km per hour for " + s(hours) + " hours. How far does it go?", ans,
                 2, !slip};
  });
  t.push_back([](long a, long b, int, bool slip) {
    const long x = b % 9 + 2, k = a % 7 + 2, c = k * x + a;
    const long r = slip ? x + 1 : x;
    return Trace{"Solve for x: " + s(k) + "x + " + s(a) + " = " + s(c) + ".",
                 "Subtract " + s(a) + " from both sides: " + s(k) + "x = " + s(c - a) + ". Then divide by " + s(k) +
                     ": x = " + s(r) + ". Let me check by substituting: " + s(k) + " × " + s(r) + " + " + s(a) + " = " +
                     s(k * r + a) + (slip ? ". That looks right. So x = " : ", which matches. So x = ") + s(r) + ".",
                 3, !slip};
  });
  t.push_back([](long a, long b, int v, bool slip) {
    const long w = a % 9 + 3, h = b % 7 + 2, r = 2 * (w + h) + (slip ? 2 : 0);
    std::string ans = "The perimeter of a rectangle is 2 × (width + height). So 2 × (" + s(w) + " + " + s(h) + ") = " + s(r) + ".";
    if (v % 2 == 0) ans = "Hmm, I think the area is " + s(w * h) + ", but the question asks for the perimeter. Actually, " + ans;
    return Trace{"A rectangle is " + s(w) + " cm wide and " + s(h) + " cm tall. What is its perimeter?",
                 ans + " Therefore, the perimeter is " + s(r) + " cm.", 3, !slip};
  });
  t.push_back([](long a, long, int, bool slip) {
    const long n = a % 20 + 5, r = n * (n + 1) / 2 - (slip ? n : 0);
    return Trace{"What is the sum of the integers from 1 to " + s(n) + "?",
                 "<think>\nThe sum 1 + 2 + ... + n is n(n + 1)/2. With n = " + s(n) + ", that is " + s(n) + " × " +
                     s(n + 1) + " / 2 = " + s(r) + ". Wait, let me double-check with small cases: for n = 3 the formula "
                     "gives 6 = 1 + 2 + 3. Good.\n</think>\n\nThe sum is " + s(r) + ".",
                 3, !slip};
  });
  t.push_back([](long a, long b, int, bool slip) {
    const long m = a % 6 + 3, n = b % 5 + 2, g = m * n;
    long x = a % 10 + 4, y = x * g;
    const long r = slip ? y / m : y / g;
    return Trace{"Find the greatest common divisor of " + s(y) + " and " + s(g * (x + 1)) + ".",
                 "Both numbers are multiples of " + s(g) + ": " + s(y) + " = " + s(g) + " × " + s(x) + " and " +
                     s(g * (x + 1)) + " = " + s(g) + " × " + s(x + 1) + ". Since " + s(x) + " and " + s(x + 1) +
                     " are consecutive, they share no factor. So the gcd is " + s(r) + ". Therefore, the answer is " +
                     s(r) + ".",
                 4, !slip};
  });
  t.push_back([](long a, long, int v, bool slip) {
    const long k = (a % 3 == 0) ? 12 : (a % 3 == 1 ? 6 : 10);
    long n = 1;
    while ((n * n + n) % k != 0) ++n;
    const long r = slip ? n + 1 : n;
    std::string ans = "We need n(n + 1) divisible by " + s(k) + ". Let me try small values. n = 1 gives 2, n = 2 gives 6";
    ans += ", n = 3 gives 12";
    ans += ". Wait, I should check each candidate carefully. The first n with n² + n divisible by " + s(k) + " is " + s(r) + ".";
    if (v % 2) ans += " Actually, let me verify: " + s(r) + " × " + s(r + 1) + " = " + s(r * (r + 1)) + ".";
    return Trace{"Find the smallest positive integer n such that n^2 + n is divisible by " + s(k) + ".",
                 ans + " So the answer is " + s(r) + ".", 4, !slip};
  });
  t.push_back([](long a, long b, int, bool slip) {
    const long red = a % 5 + 2, blue = b % 6 + 3, tot = red + blue;
    const std::string frac = slip ? s(red) + "/" + s(blue) : s(red) + "/" + s(tot);
    return Trace{"A bag has " + s(red) + " red balls and " + s(blue) + " blue balls. What is the probability of drawing a red ball?",
                 "There are " + s(red) + " + " + s(blue) + " = " + s(tot) + " balls in total. The probability is the "
                     "number of red balls divided by the total, so it is " + frac +
                     ". Hmm, however, we should make sure the draw is uniform; the problem implies it is. Therefore, "
                     "the probability is " + frac + ".",
                 4, !slip};
  });
  t.push_back([](long a, long b, int, bool slip) {
    const long n = a % 4 + 5, k = b % 2 + 2;
    long c = 1;
    for (long i = 0; i < k; ++i) c = c * (n - i) / (i + 1);
    const long r = slip ? c * k : c;
    return Trace{"How many ways are there to choose " + s(k) + " students from a class of " + s(n) + "?",
                 "<think>\nThis is a combination: C(" + s(n) + ", " + s(k) + "). Hmm, order does not matter, so we "
                     "divide by " + s(k) + "!. Let me compute it step by step. Wait, actually I should double-check "
                     "whether order matters. It does not. So C(" + s(n) + ", " + s(k) + ") = " + s(r) +
                     ".\n</think>\n\nThere are " + s(r) + " ways. Therefore, the answer is " + s(r) + ".",
                 5, !slip};
  });
  t.push_back([](long a, long b, int v, bool slip) {
    const long base = a % 3 + 2, e = b % 4 + 5, m = 7;
    long p = 1;
    for (long i = 0; i < e; ++i) p = p * base % m;
    const long r = slip ? (p + 1) % m : p;
    std::string ans = "We need " + s(base) + "^" + s(e) + " mod 7. Let me think about the cycle of powers of " + s(base) +
                      " modulo 7.";
    if (v % 2) ans += " Aha, the powers repeat, so we can reduce the exponent.";
    ans += " Computing step by step gives a remainder of " + s(r) + ". Let me check the last step again. So the remainder is " +
           s(r) + ".";
    return Trace{"What is the remainder when " + s(base) + "^" + s(e) + " is divided by 7?", ans, 5, !slip};
  });
  return t;
}

}  // namespace

std::string demo_dataset_jsonl() {
  const auto ts = templates();
  std::string out;
  int id = 0;
  for (size_t t = 0; t < ts.size(); ++t) {
    for (int v = 0; v < 5; ++v) {
      // Deterministic numbers; every third trace (shifted per template) carries a slip.
      const long a = 7 + 13 * v + 5 * long(t), b = 3 + 11 * v + 3 * long(t);
      const bool slip = (v + int(t)) % 3 == 0;
      Trace tr = ts[t](a, b, v, slip);
      io::Json j;
      j["id"] = "demo-" + std::to_string(++id);
      j["query"] = tr.query;
      j["answer"] = tr.answer;
      j["level"] = tr.level;
      j["is_correct"] = tr.correct;
      j["source"] = "logitscope-demo";
      out += j.dump() + "\n";
    }
  }
  return out;
}

}  // namespace lsc::cli
