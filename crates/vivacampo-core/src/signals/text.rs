//! What a signal says, in pt-BR and English: a title, an explanation naming the weeks and values
//! it rests on, and actions to take.

use serde::{Deserialize, Serialize};

use super::Language;
use crate::weeks::IsoWeek;

/// A signal's text in one language.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Text {
    /// One line.
    pub title: String,
    /// What was seen, against what, and why it matters.
    pub explanation: String,
    /// What to do, most useful first.
    pub actions: Vec<String>,
}

/// A signal's text in every language.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Texts {
    /// Brazilian Portuguese.
    #[serde(rename = "pt-BR")]
    pub pt_br: Text,
    /// English.
    pub en: Text,
}

impl Texts {
    /// The text in `language`.
    pub fn get(&self, language: Language) -> &Text {
        match language {
            Language::PtBr => &self.pt_br,
            Language::En => &self.en,
        }
    }
}

/// A number with 2 decimals (decimal comma in pt-BR).
fn n2(v: f64, pt: bool) -> String {
    let s = format!("{v:.2}");
    if pt { s.replace('.', ",") } else { s }
}

/// Millimetres, whole.
fn mm(v: f64) -> String {
    format!("{:.0}", v)
}

fn text(title: String, explanation: String, actions: &[&str]) -> Text {
    Text {
        title,
        explanation,
        actions: actions.iter().map(|a| (*a).to_owned()).collect(),
    }
}

/// Where the expected values came from, as a phrase.
fn baseline_phrase(seasons: usize, curve: Option<&str>, pt: bool) -> String {
    match (curve, pt) {
        (Some(c), true) => format!("a curva esperada ({})", curve_pt(c)),
        (Some(c), false) => format!("the expected curve ({})", c.replace('_', " ")),
        (None, true) => format!("as safras anteriores do próprio talhão ({seasons})"),
        (None, false) => format!("the field's own earlier seasons ({seasons})"),
    }
}

/// `preposition` ("de" or "por") before a Portuguese phrase that starts with an article, as
/// Portuguese writes it: "de" + "as safras" is "das safras", "por" + "a curva" is "pela curva".
fn pt_contract(preposition: &str, phrase: &str) -> String {
    let contracted = |article: &str| match (preposition, article) {
        ("de", a) => Some(format!("d{a}")),
        ("por", a) => Some(format!("pel{a}")),
        _ => None,
    };
    for article in ["as", "os", "a", "o"] {
        if let Some(rest) = phrase
            .strip_prefix(article)
            .and_then(|r| r.strip_prefix(' '))
            && let Some(joined) = contracted(article)
        {
            return format!("{joined} {rest}");
        }
    }
    format!("{preposition} {phrase}")
}

fn curve_pt(name: &str) -> &'static str {
    match name {
        "soybean" => "soja",
        "maize" => "milho",
        "pasture" => "pastagem",
        _ => "cultura genérica",
    }
}

pub fn low_vigor(
    since: IsoWeek,
    images: usize,
    week: IsoWeek,
    ndvi: f64,
    expected: f64,
    seasons: usize,
    curve: Option<&str>,
) -> Texts {
    let pct = ((expected - ndvi) / expected * 100.0).round();
    Texts {
        pt_br: text(
            "Vigor abaixo do esperado".into(),
            format!(
                "Em {week} o NDVI foi {} contra {} esperado {}: {pct:.0} % abaixo; {images} imagens seguidas abaixo desde {since}.",
                n2(ndvi, true),
                n2(expected, true),
                pt_contract("por", &baseline_phrase(seasons, curve, true))
            ),
            &[
                "Visitar o talhão e comparar as áreas fracas com as boas",
                "Verificar estande, falhas de plantio e daninhas",
                "Avaliar nutrição e compactação do solo",
            ],
        ),
        en: text(
            "Vigor below expected".into(),
            format!(
                "In {week} NDVI was {} against {} expected from {}: {pct:.0} % lower; {images} images in a row below since {since}.",
                n2(ndvi, false),
                n2(expected, false),
                baseline_phrase(seasons, curve, false)
            ),
            &[
                "Visit the field and compare weak and good areas",
                "Check stand, planting gaps and weeds",
                "Assess nutrition and soil compaction",
            ],
        ),
    }
}

pub fn rapid_decline(from: (IsoWeek, f64), to: (IsoWeek, f64), noise: f64) -> Texts {
    let (fw, fv) = from;
    let (tw, tv) = to;
    Texts {
        pt_br: text(
            "Queda rápida do vigor".into(),
            format!(
                "O NDVI caiu de {} ({fw}) para {} ({tw}), {} — muito além da variação usual do talhão entre semanas (±{}).",
                n2(fv, true),
                n2(tv, true),
                n2(fv - tv, true),
                n2(noise, true)
            ),
            &[
                "Visitar o talhão nesta semana",
                "Procurar pragas, doenças, granizo ou acamamento",
                "Conferir a imagem da semana para descartar sombra ou nuvem",
            ],
        ),
        en: text(
            "Rapid decline in vigor".into(),
            format!(
                "NDVI fell from {} ({fw}) to {} ({tw}), {} — far beyond the field's usual week-to-week variation (±{}).",
                n2(fv, false),
                n2(tv, false),
                n2(fv - tv, false),
                n2(noise, false)
            ),
            &[
                "Visit the field this week",
                "Look for pests, disease, hail or lodging",
                "Check the week's image to rule out shadow or cloud",
            ],
        ),
    }
}

pub fn persistent_anomaly(
    from: IsoWeek,
    to: IsoWeek,
    weeks: usize,
    deficit: f64,
    localized: bool,
    seasons: usize,
    curve: Option<&str>,
) -> Texts {
    Texts {
        pt_br: text(
            "Anomalia persistente".into(),
            format!(
                "De {from} a {to}, {weeks} imagens seguidas abaixo da faixa normal {} (em média {} abaixo do esperado).{}",
                pt_contract("de", &baseline_phrase(seasons, curve, true)),
                n2(deficit, true),
                if localized {
                    " A queda se concentra em manchas: a pior décima parte do talhão caiu muito mais que a média."
                } else {
                    ""
                }
            ),
            &[
                "Percorrer as manchas mais fracas do mapa",
                "Verificar pragas, doenças e falhas de aplicação",
                "Registrar o que encontrou para comparar na próxima imagem",
            ],
        ),
        en: text(
            "Persistent anomaly".into(),
            format!(
                "From {from} to {to}, {weeks} images in a row below the normal band of {} ({} below expected on average).{}",
                baseline_phrase(seasons, curve, false),
                n2(deficit, false),
                if localized {
                    " The drop is patchy: the worst tenth of the field fell much more than the mean."
                } else {
                    ""
                }
            ),
            &[
                "Walk the weakest patches on the map",
                "Check for pests, disease and application gaps",
                "Note what you find to compare with the next image",
            ],
        ),
    }
}

pub fn water_stress(
    index: &str,
    from: (IsoWeek, f64),
    to: (IsoWeek, f64),
    balance: f64,
    deficit_weeks: usize,
    weeks: usize,
) -> Texts {
    let (fw, fv) = from;
    let (tw, tv) = to;
    let name = index.to_uppercase();
    Texts {
        pt_br: text(
            "Estresse hídrico".into(),
            format!(
                "O {name} caiu de {} ({fw}) para {} ({tw}) enquanto o balanço hídrico (chuva − ET0) foi {} mm, com {deficit_weeks} de {weeks} semanas em déficit.",
                n2(fv, true),
                n2(tv, true),
                mm(balance)
            ),
            &[
                "Verificar a umidade do solo no campo",
                "Se irrigado, conferir lâmina e funcionamento do sistema",
                "Adiar adubação de cobertura e aplicações até chover",
            ],
        ),
        en: text(
            "Water stress".into(),
            format!(
                "{name} fell from {} ({fw}) to {} ({tw}) while the water balance (rain − ET0) was {} mm, with {deficit_weeks} of {weeks} weeks in deficit.",
                n2(fv, false),
                n2(tv, false),
                mm(balance)
            ),
            &[
                "Check soil moisture in the field",
                "If irrigated, check the applied depth and the system",
                "Hold top-dressing and sprays until it rains",
            ],
        ),
    }
}

pub fn no_recent_data(weeks: usize, last_clear: Option<IsoWeek>, next_pass: Option<&str>) -> Texts {
    let last_pt = last_clear.map_or("nenhuma ainda".to_owned(), |w| w.to_string());
    let last_en = last_clear.map_or("none yet".to_owned(), |w| w.to_string());
    let next_pt = next_pass.map_or(String::new(), |d| {
        format!(" A próxima passagem do Sentinel-2 é esperada em {d}.")
    });
    let next_en = next_pass.map_or(String::new(), |d| {
        format!(" The next Sentinel-2 pass is expected on {d}.")
    });
    Texts {
        pt_br: text(
            "Sem imagem recente".into(),
            format!(
                "Há {weeks} semanas sem imagem limpa do talhão (nuvens ou sem cena); última imagem limpa: {last_pt}.{next_pt}"
            ),
            &[
                "Se houver suspeita de problema, visitar o talhão sem esperar a imagem",
                "Aguardar a próxima passagem: o sinal se resolve sozinho com uma imagem limpa",
            ],
        ),
        en: text(
            "No recent image".into(),
            format!(
                "{weeks} weeks without a clear image of the field (clouds or no scene); last clear image: {last_en}.{next_en}"
            ),
            &[
                "If a problem is suspected, visit the field without waiting for an image",
                "Wait for the next pass: the signal resolves itself with a clear image",
            ],
        ),
    }
}

pub fn pasture_degradation(
    peak_now: f64,
    peak_before: f64,
    bsi_now: f64,
    bsi_before: f64,
    seasons: usize,
) -> Texts {
    Texts {
        pt_br: text(
            "Degradação da pastagem".into(),
            format!(
                "O pico de NDVI da estação chuvosa caiu para {} contra {} nas {seasons} estações anteriores, e o solo exposto (BSI) subiu de {} para {}.",
                n2(peak_now, true),
                n2(peak_before, true),
                n2(bsi_before, true),
                n2(bsi_now, true)
            ),
            &[
                "Avaliar a lotação e o tempo de descanso dos piquetes",
                "Fazer análise de solo e planejar correção e adubação",
                "Considerar a reforma ou o vedamento das áreas mais expostas",
            ],
        ),
        en: text(
            "Pasture degradation".into(),
            format!(
                "The wet-season NDVI peak fell to {} against {} in the {seasons} earlier seasons, and bare soil (BSI) rose from {} to {}.",
                n2(peak_now, false),
                n2(peak_before, false),
                n2(bsi_before, false),
                n2(bsi_now, false)
            ),
            &[
                "Review stocking rate and paddock rest periods",
                "Test the soil and plan liming and fertilising",
                "Consider renovating or resting the barest areas",
            ],
        ),
    }
}

pub fn harvest_radar(week: IsoWeek, before: (IsoWeek, f64), after_db: f64) -> Texts {
    let (bw, bv) = before;
    Texts {
        pt_br: text(
            "Colheita detectada pelo radar".into(),
            format!(
                "Com nuvens sobre o talhão, o radar (Sentinel-1) mostrou o retroespalhamento VH caindo de {} dB ({bw}) para {} dB em {week}, depois da maturação: colheita provável.",
                n2(bv, true),
                n2(after_db, true)
            ),
            &["Confirmar a colheita no campo ou na próxima imagem sem nuvens"],
        ),
        en: text(
            "Harvest detected by radar".into(),
            format!(
                "With clouds over the field, radar (Sentinel-1) showed VH backscatter falling from {} dB ({bw}) to {} dB in {week}, after maturity: a likely harvest.",
                n2(bv, false),
                n2(after_db, false)
            ),
            &["Confirm the harvest in the field or on the next cloud-free image"],
        ),
    }
}

pub fn harvest(week: IsoWeek, before: (IsoWeek, f64), after: f64, peak: f64) -> Texts {
    let (bw, bv) = before;
    Texts {
        pt_br: text(
            "Colheita detectada".into(),
            format!(
                "O NDVI caiu de {} ({bw}) para {} em {week}, depois de um pico de {} na safra: colheita. Sinais abertos desta safra foram encerrados.",
                n2(bv, true),
                n2(after, true),
                n2(peak, true)
            ),
            &["Confirmar a data de colheita e registrar a produtividade"],
        ),
        en: text(
            "Harvest detected".into(),
            format!(
                "NDVI fell from {} ({bw}) to {} in {week}, after a season peak of {}: harvest. Open signals of this season were closed.",
                n2(bv, false),
                n2(after, false),
                n2(peak, false)
            ),
            &["Confirm the harvest date and record the yield"],
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn portuguese_contracts_prepositions_with_articles() {
        let own = baseline_phrase(3, None, true);
        let curve = baseline_phrase(0, Some("soybean"), true);
        assert_eq!(
            pt_contract("de", &own),
            "das safras anteriores do próprio talhão (3)"
        );
        assert_eq!(
            pt_contract("por", &own),
            "pelas safras anteriores do próprio talhão (3)"
        );
        assert_eq!(pt_contract("por", &curve), "pela curva esperada (soja)");
        assert_eq!(pt_contract("de", "o talhão"), "do talhão");
        assert_eq!(pt_contract("de", "outra safra"), "de outra safra");
        let t = low_vigor(
            IsoWeek::new(2026, 45).unwrap(),
            4,
            IsoWeek::new(2026, 49).unwrap(),
            0.36,
            0.55,
            3,
            None,
        );
        assert!(
            t.pt_br
                .explanation
                .contains("esperado pelas safras anteriores"),
            "{}",
            t.pt_br.explanation
        );
    }
}
