//! The text `natter seed` writes, and the words `natter bench search` looks for: a fixed
//! vocabulary whose words are drawn with Zipf's law (the n-th most common word about 1/n as
//! often as the first), as words are in chat. The first words are common English (a few with
//! accents, which search folds); after them come made-up words built from syllables, ever
//! rarer: at 1,000,000 messages the last ones appear in a few dozen messages each.

use rand::Rng;

/// The most common words, most common first.
const COMMON: &str = "the i you to a and it is that of in for me on be this we have my not \
    with do are so just was but at can what if no all get your like know they about will up \
    out go one there lunch time now good how when think yes see ok well then today here come \
    from would some he an more want need back meeting tomorrow really work right also did going \
    make thanks sure day only call let maybe week still take got much people night after new \
    first over because could should home way thing any look something great tonight morning \
    before them said nice sorry where why project team later again last two next office send \
    check coffee café email plan early late train weekend friday monday party dinner movie \
    music game talk please yeah hey hello bye love happy fine long little help done find \
    start stop open close read write file report review draft deadline budget release deploy \
    server database search message photo picture video link share update change fix bug test \
    build branch merge issue ticket sprint demo client customer sales price order invoice \
    naïve résumé über garden weather rain sun snow cold hot walk run bike car bus flight hotel \
    trip holiday birthday family kids school book story idea question answer problem reason";

const SYLLABLES: [&str; 40] = [
    "ka", "lo", "mi", "ne", "ru", "sa", "te", "vo", "zu", "ba", "di", "fe", "go", "hu", "ji", "ko",
    "la", "ma", "no", "pi", "qua", "ri", "so", "tu", "ve", "wa", "xi", "yo", "ze", "bri", "cha",
    "dro", "fla", "gri", "pla", "shi", "tra", "ul", "en", "or",
];

/// How many words the vocabulary has.
pub const SIZE: usize = 20_000;

/// The vocabulary, most common first, and the cumulative Zipf weights to draw from it.
pub struct Vocabulary {
    pub words: Vec<String>,
    cumulative: Vec<f64>,
}

impl Default for Vocabulary {
    fn default() -> Self {
        Self::new()
    }
}

impl Vocabulary {
    pub fn new() -> Self {
        let mut words: Vec<String> = COMMON.split_whitespace().map(str::to_owned).collect();
        let mut seen: std::collections::HashSet<String> = words.iter().cloned().collect();
        let mut n = 0usize;
        while words.len() < SIZE {
            let w = made_up(n);
            n += 1;
            if seen.insert(w.clone()) {
                words.push(w);
            }
        }
        let mut total = 0.0;
        let cumulative = (1..=words.len())
            .map(|rank| {
                total += 1.0 / rank as f64;
                total
            })
            .collect();
        Self { words, cumulative }
    }

    /// One word, drawn with Zipf's law.
    pub fn draw(&self, rng: &mut impl Rng) -> &str {
        let total = *self.cumulative.last().expect("words");
        let u = rng.random_range(0.0..total);
        let i = self.cumulative.partition_point(|c| *c <= u);
        &self.words[i.min(self.words.len() - 1)]
    }

    /// A chat message of 3 to 24 words, the first capitalised, sometimes ending with a `?` or
    /// `!`, now and then with a comma.
    pub fn message(&self, rng: &mut impl Rng) -> String {
        let n = rng.random_range(3..=24);
        let mut out = String::with_capacity(n * 6);
        for i in 0..n {
            let w = self.draw(rng);
            if i == 0 {
                let mut c = w.chars();
                if let Some(f) = c.next() {
                    out.extend(f.to_uppercase());
                    out.push_str(c.as_str());
                }
            } else {
                if rng.random_ratio(1, 12) {
                    out.push(',');
                }
                out.push(' ');
                out.push_str(w);
            }
        }
        match rng.random_range(0..10) {
            0 | 1 => out.push('?'),
            2 => out.push('!'),
            3 | 4 => out.push('.'),
            _ => {}
        }
        out
    }
}

/// The n-th made-up word: two to four syllables.
fn made_up(n: usize) -> String {
    let s = SYLLABLES.len();
    let mut k = n;
    let syllables = if k < s * s {
        2
    } else if k < s * s + s * s * s {
        k -= s * s;
        3
    } else {
        k -= s * s + s * s * s;
        4
    };
    let mut out = String::new();
    for _ in 0..syllables {
        out.push_str(SYLLABLES[k % s]);
        k /= s;
    }
    out
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    #[test]
    fn the_vocabulary_is_fixed_and_zipf_distributed() {
        let v = Vocabulary::new();
        assert_eq!(v.words.len(), SIZE);
        assert_eq!(v.words[0], "the");
        assert_eq!(Vocabulary::new().words, v.words);
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let rare: std::collections::HashSet<&str> =
            v.words[10_000..].iter().map(String::as_str).collect();
        let mut the = 0;
        let mut tail = 0;
        for _ in 0..100_000 {
            let w = v.draw(&mut rng);
            if w == "the" {
                the += 1;
            }
            if rare.contains(w) {
                tail += 1;
            }
        }
        // The first word: 1/H(20000) ≈ 9.4% of the words; the second half: ln 2/H ≈ 6.6%.
        assert!((8_000..11_000).contains(&the), "{the}");
        assert!((5_000..8_500).contains(&tail), "{tail}");
        let m = v.message(&mut rng);
        assert!(m.split_whitespace().count() >= 3, "{m}");
    }
}
