//! The e-mails about signals, in the member's language (pt-BR or English): one per event
//! (instant) or one per day (digest). Each is plain text plus HTML, links to the field and, when
//! the field's outline is known, shows it as an inline PNG.

use base64::Engine;
use vivacampo_core::notify::{EventText, WebhookEvent};
use vivacampo_core::signals::Language;

/// Content-ID of the field outline image.
pub const OUTLINE_CID: &str = "field-outline@vivacampo";

/// An e-mail ready to be encoded.
#[derive(Debug, Clone, PartialEq)]
pub struct Email {
    pub from: String,
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
    /// The field's outline, shown in the HTML part as `cid:` [`OUTLINE_CID`].
    pub image_png: Option<Vec<u8>>,
}

/// One signal event as the e-mails tell it.
#[derive(Debug, Clone, PartialEq)]
pub struct SignalNotice<'a> {
    pub event: WebhookEvent,
    pub text: &'a EventText,
    /// The Signal JSON (`aoi_name`, `severity`, `confidence`, `aoi_id`, `farm_id`).
    pub data: &'a serde_json::Value,
    /// The field's page in the web app, when `public_url` is set.
    pub link: Option<String>,
}

/// The web app's page of a field: `{public_url}/#/farms/{farm}/fields/{aoi}`.
pub fn field_link(public_url: &str, data: &serde_json::Value) -> Option<String> {
    let aoi = data["aoi_id"].as_str()?;
    let farm = data["farm_id"].as_str()?;
    Some(format!(
        "{}/#/farms/{farm}/fields/{aoi}",
        public_url.trim_end_matches('/')
    ))
}

struct Words {
    opened_subject: &'static str,
    resolved_subject: &'static str,
    opened_intro: &'static str,
    resolved_intro: &'static str,
    severity: &'static str,
    confidence: &'static str,
    actions: &'static str,
    open_field: &'static str,
    digest_subject: &'static str,
    digest_intro: &'static str,
    footer: &'static str,
    levels: [(&'static str, &'static str); 3],
    field: &'static str,
}

const PT_BR: Words = Words {
    opened_subject: "Novo alerta",
    resolved_subject: "Alerta resolvido",
    opened_intro: "Um novo alerta foi aberto no talhão",
    resolved_intro: "O alerta foi resolvido no talhão",
    severity: "Gravidade",
    confidence: "confiança",
    actions: "O que fazer",
    open_field: "Abrir o talhão",
    digest_subject: "Resumo do dia",
    digest_intro: "Alertas das últimas 24 horas",
    footer: "Você recebe este e-mail porque ativou os avisos de alertas no VivaCampo. Para parar, altere as notificações nas suas configurações.",
    levels: [("LOW", "baixa"), ("MEDIUM", "média"), ("HIGH", "alta")],
    field: "talhão",
};

const EN: Words = Words {
    opened_subject: "New signal",
    resolved_subject: "Signal resolved",
    opened_intro: "A new signal was opened on field",
    resolved_intro: "A signal was resolved on field",
    severity: "Severity",
    confidence: "confidence",
    actions: "What to do",
    open_field: "Open the field",
    digest_subject: "Daily summary",
    digest_intro: "Signals of the last 24 hours",
    footer: "You get this e-mail because you turned on signal e-mails in VivaCampo. To stop them, change the notifications in your settings.",
    levels: [("LOW", "low"), ("MEDIUM", "medium"), ("HIGH", "high")],
    field: "field",
};

fn words(language: Language) -> &'static Words {
    match language {
        Language::PtBr => &PT_BR,
        Language::En => &EN,
    }
}

/// `<`, `>`, `&` and quotes escaped for HTML text and attributes.
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn field_name(data: &serde_json::Value, w: &Words) -> String {
    data["aoi_name"]
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| w.field.to_owned())
}

/// "Gravidade alta, confiança 80 %" / "Severity high, confidence 80 %", when the data has them.
fn severity_line(data: &serde_json::Value, language: Language) -> Option<String> {
    let w = words(language);
    let severity = data["severity"].as_str()?;
    let level = w
        .levels
        .iter()
        .find(|(k, _)| *k == severity)
        .map(|(_, v)| *v)
        .unwrap_or(severity);
    Some(match data["confidence"].as_f64() {
        Some(c) => format!(
            "{} {level}, {} {} %",
            w.severity,
            w.confidence,
            (c * 100.0).round()
        ),
        None => format!("{} {level}", w.severity),
    })
}

fn notice_text(notice: &SignalNotice<'_>, language: Language, out: &mut String) {
    let w = words(language);
    out.push_str(&notice.text.title);
    out.push('\n');
    if let Some(line) = severity_line(notice.data, language) {
        out.push_str(&line);
        out.push('\n');
    }
    out.push('\n');
    if !notice.text.explanation.is_empty() {
        out.push_str(&notice.text.explanation);
        out.push_str("\n\n");
    }
    if !notice.text.actions.is_empty() {
        out.push_str(w.actions);
        out.push_str(":\n");
        for action in &notice.text.actions {
            out.push_str("- ");
            out.push_str(action);
            out.push('\n');
        }
        out.push('\n');
    }
    if let Some(link) = &notice.link {
        out.push_str(&format!("{}: {link}\n", w.open_field));
    }
}

fn notice_html(notice: &SignalNotice<'_>, language: Language, out: &mut String) {
    let w = words(language);
    out.push_str(&format!("<h2>{}</h2>\n", escape_html(&notice.text.title)));
    if let Some(line) = severity_line(notice.data, language) {
        out.push_str(&format!("<p><strong>{}</strong></p>\n", escape_html(&line)));
    }
    if !notice.text.explanation.is_empty() {
        out.push_str(&format!(
            "<p>{}</p>\n",
            escape_html(&notice.text.explanation)
        ));
    }
    if !notice.text.actions.is_empty() {
        out.push_str(&format!("<p>{}:</p>\n<ul>\n", escape_html(w.actions)));
        for action in &notice.text.actions {
            out.push_str(&format!("<li>{}</li>\n", escape_html(action)));
        }
        out.push_str("</ul>\n");
    }
    if let Some(link) = &notice.link {
        out.push_str(&format!(
            "<p><a href=\"{}\">{}</a></p>\n",
            escape_html(link),
            escape_html(w.open_field)
        ));
    }
}

fn html_page(language: Language, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"{}\">\n<head><meta charset=\"utf-8\"></head>\n\
         <body style=\"font-family: sans-serif; color: #1d2a1f; max-width: 640px\">\n{body}</body>\n</html>\n",
        language.as_str()
    )
}

/// The e-mail about one signal event.
pub fn signal_email(
    from: &str,
    to: &str,
    language: Language,
    notice: &SignalNotice<'_>,
    image_png: Option<Vec<u8>>,
) -> Email {
    let w = words(language);
    let field = field_name(notice.data, w);
    let (kind, intro) = match notice.event {
        WebhookEvent::SignalResolved => (w.resolved_subject, w.resolved_intro),
        _ => (w.opened_subject, w.opened_intro),
    };
    let subject = format!("[VivaCampo] {kind}: {field} · {}", notice.text.title);
    let mut text = format!("{intro} {field}.\n\n");
    notice_text(notice, language, &mut text);
    text.push_str(&format!("\n-- \n{}\n", w.footer));
    let mut body = format!(
        "<p>{} <strong>{}</strong>.</p>\n",
        escape_html(intro),
        escape_html(&field)
    );
    if image_png.is_some() {
        body.push_str(&format!(
            "<p><img src=\"cid:{OUTLINE_CID}\" alt=\"{}\" width=\"160\" height=\"160\"></p>\n",
            escape_html(&field)
        ));
    }
    notice_html(notice, language, &mut body);
    body.push_str(&format!(
        "<hr>\n<p style=\"color: #667; font-size: small\">{}</p>\n",
        escape_html(w.footer)
    ));
    Email {
        from: from.to_owned(),
        to: to.to_owned(),
        subject,
        text,
        html: html_page(language, &body),
        image_png,
    }
}

/// The daily digest: every signal event of the day, oldest first.
pub fn digest_email(
    from: &str,
    to: &str,
    language: Language,
    notices: &[SignalNotice<'_>],
) -> Email {
    let w = words(language);
    let subject = format!("[VivaCampo] {}: {}", w.digest_subject, notices.len());
    let mut text = format!("{} ({}):\n\n", w.digest_intro, notices.len());
    let mut body = format!(
        "<p>{} ({}):</p>\n",
        escape_html(w.digest_intro),
        notices.len()
    );
    for notice in notices {
        let field = field_name(notice.data, w);
        let kind = match notice.event {
            WebhookEvent::SignalResolved => w.resolved_subject,
            _ => w.opened_subject,
        };
        text.push_str(&format!("== {kind} · {field} ==\n"));
        notice_text(notice, language, &mut text);
        text.push('\n');
        body.push_str(&format!(
            "<h3 style=\"color: #667\">{} · {}</h3>\n",
            escape_html(kind),
            escape_html(&field)
        ));
        notice_html(notice, language, &mut body);
    }
    text.push_str(&format!("-- \n{}\n", w.footer));
    body.push_str(&format!(
        "<hr>\n<p style=\"color: #667; font-size: small\">{}</p>\n",
        escape_html(w.footer)
    ));
    Email {
        from: from.to_owned(),
        to: to.to_owned(),
        subject,
        text,
        html: html_page(language, &body),
        image_png: None,
    }
}

/// An RFC 2047 encoded word when `text` is not plain ASCII.
fn header_text(text: &str) -> String {
    if text.chars().all(|c| c.is_ascii() && !c.is_ascii_control()) {
        return text.to_owned();
    }
    // Encoded words are at most 75 characters: split the UTF-8 text on character bounds.
    let mut words = Vec::new();
    let mut chunk = String::new();
    for c in text.chars() {
        if chunk.len() + c.len_utf8() > 45 {
            words.push(std::mem::take(&mut chunk));
        }
        chunk.push(c);
    }
    words.push(chunk);
    words
        .iter()
        .map(|w| {
            format!(
                "=?UTF-8?B?{}?=",
                base64::engine::general_purpose::STANDARD.encode(w)
            )
        })
        .collect::<Vec<_>>()
        .join("\r\n ")
}

/// Base64 in lines of 76 characters.
fn base64_lines(bytes: &[u8]) -> String {
    let encoded = base64::engine::general_purpose::STANDARD.encode(bytes);
    let mut out = String::with_capacity(encoded.len() + encoded.len() / 38);
    for line in encoded.as_bytes().chunks(76) {
        out.push_str(std::str::from_utf8(line).expect("base64 is ASCII"));
        out.push_str("\r\n");
    }
    out
}

impl Email {
    /// The whole message (RFC 5322, MIME), CRLF line ends: multipart/alternative of the text
    /// and HTML, inside multipart/related with the PNG when there is one.
    pub fn to_message(&self, now: time::OffsetDateTime) -> Vec<u8> {
        let id = uuid::Uuid::new_v4().simple().to_string();
        let domain = self
            .from
            .rsplit_once('@')
            .map(|(_, d)| d)
            .unwrap_or("vivacampo.invalid");
        let date = now
            .format(&time::format_description::well_known::Rfc2822)
            .unwrap_or_default();
        let alt = format!("alt-{id}");
        let rel = format!("rel-{id}");
        let mut m = String::new();
        m.push_str(&format!("From: VivaCampo <{}>\r\n", self.from));
        m.push_str(&format!("To: <{}>\r\n", self.to));
        m.push_str(&format!("Subject: {}\r\n", header_text(&self.subject)));
        m.push_str(&format!("Date: {date}\r\n"));
        m.push_str(&format!("Message-ID: <{id}@{domain}>\r\n"));
        m.push_str("MIME-Version: 1.0\r\nAuto-Submitted: auto-generated\r\n");
        if self.image_png.is_some() {
            m.push_str(&format!(
                "Content-Type: multipart/related; boundary=\"{rel}\"; type=\"multipart/alternative\"\r\n\r\n--{rel}\r\n"
            ));
        }
        m.push_str(&format!(
            "Content-Type: multipart/alternative; boundary=\"{alt}\"\r\n\r\n"
        ));
        for (kind, body) in [("plain", &self.text), ("html", &self.html)] {
            m.push_str(&format!(
                "--{alt}\r\nContent-Type: text/{kind}; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n"
            ));
            m.push_str(&base64_lines(body.as_bytes()));
        }
        m.push_str(&format!("--{alt}--\r\n"));
        if let Some(png) = &self.image_png {
            m.push_str(&format!(
                "--{rel}\r\nContent-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n\
                 Content-ID: <{OUTLINE_CID}>\r\nContent-Disposition: inline; filename=\"field.png\"\r\n\r\n"
            ));
            m.push_str(&base64_lines(png));
            m.push_str(&format!("--{rel}--\r\n"));
        }
        m.into_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> (EventText, serde_json::Value) {
        (
            EventText {
                title: "Vigor baixo".into(),
                explanation: "O NDVI está 0,21 abaixo do esperado <desde a semana 10>.".into(),
                actions: vec!["Visite o talhão".into()],
            },
            serde_json::json!({"aoi_id": "a1", "farm_id": "f1", "aoi_name": "Talhão 3",
                               "severity": "HIGH", "confidence": 0.8}),
        )
    }

    #[test]
    fn signal_email_in_portuguese_escapes_html_and_links() {
        let (text, data) = sample();
        let notice = SignalNotice {
            event: WebhookEvent::SignalOpened,
            text: &text,
            data: &data,
            link: field_link("https://app.example.com/", &data),
        };
        let email = signal_email(
            "a@example.com",
            "b@example.com",
            Language::PtBr,
            &notice,
            None,
        );
        assert_eq!(
            email.subject,
            "[VivaCampo] Novo alerta: Talhão 3 · Vigor baixo"
        );
        assert!(
            email
                .text
                .starts_with("Um novo alerta foi aberto no talhão Talhão 3.\n")
        );
        assert!(email.text.contains("Gravidade alta, confiança 80 %"));
        assert!(
            email
                .text
                .contains("Abrir o talhão: https://app.example.com/#/farms/f1/fields/a1")
        );
        assert!(email.html.contains("&lt;desde a semana 10&gt;"));
        assert!(email.html.contains("<html lang=\"pt-BR\">"));
    }

    #[test]
    fn message_is_mime_with_encoded_subject() {
        let (text, data) = sample();
        let notice = SignalNotice {
            event: WebhookEvent::SignalResolved,
            text: &text,
            data: &data,
            link: None,
        };
        let email = signal_email(
            "a@example.com",
            "b@example.com",
            Language::En,
            &notice,
            Some(vec![1, 2, 3]),
        );
        let message =
            String::from_utf8(email.to_message(time::OffsetDateTime::UNIX_EPOCH)).unwrap();
        assert!(message.contains("Subject: =?UTF-8?B?"));
        assert!(message.contains("Date: Thu, 01 Jan 1970 00:00:00 +0000\r\n"));
        assert!(message.contains("Content-Type: multipart/related;"));
        assert!(message.contains("Content-ID: <field-outline@vivacampo>"));
        assert!(message.lines().all(|l| l.len() <= 998));
    }
}
