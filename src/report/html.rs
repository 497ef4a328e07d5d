//! The report page: one self-contained HTML document (inline CSS and SVG, no script, no
//! external resource of any kind). Pure: builds text.

/// `text` with `&`, `<`, `>`, `"` and `'` escaped for HTML.
pub fn esc(text: &str) -> String {
    let mut s = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => s.push_str("&amp;"),
            '<' => s.push_str("&lt;"),
            '>' => s.push_str("&gt;"),
            '"' => s.push_str("&quot;"),
            '\'' => s.push_str("&#39;"),
            c => s.push(c),
        }
    }
    s
}

/// One chart: its kind (a CSS class and `data-chart` value), SVG and one-line caption.
#[derive(Clone, Debug)]
pub struct Figure {
    /// Kind, e.g. `heatmap`, `liquidation`, `pareto`, `equity`.
    pub kind: &'static str,
    /// The SVG document.
    pub svg: String,
    /// How to read it (plain text).
    pub caption: String,
}

/// A section of the page: a heading, an optional anchor, text paragraphs, an optional
/// table and figures.
#[derive(Clone, Debug, Default)]
pub struct Section {
    /// Anchor id (`id="…"`), if any.
    pub id: Option<String>,
    /// Heading text.
    pub title: String,
    /// Paragraphs (plain text).
    pub notes: Vec<String>,
    /// A table, already HTML.
    pub table_html: Option<String>,
    /// The charts.
    pub figures: Vec<Figure>,
}

/// A table as HTML: `header` then `rows` (plain text cells); cells of column `link_col`
/// link to `#run-<cell>`; numeric-looking cells are right-aligned.
pub fn table(header: &[String], rows: &[Vec<String>], link_col: Option<usize>) -> String {
    let mut s = String::from("<table><thead><tr>");
    for h in header {
        s.push_str(&format!("<th>{}</th>", esc(h)));
    }
    s.push_str("</tr></thead><tbody>");
    for r in rows {
        s.push_str("<tr>");
        for (i, c) in r.iter().enumerate() {
            let num = c.parse::<f64>().is_ok();
            let class = if num { " class=\"num\"" } else { "" };
            if Some(i) == link_col {
                s.push_str(&format!("<td{class}><a href=\"#run-{0}\">{0}</a></td>", esc(c)));
            } else {
                s.push_str(&format!("<td{class}>{}</td>", esc(c)));
            }
        }
        s.push_str("</tr>");
    }
    s.push_str("</tbody></table>");
    s
}

const STYLE: &str = "body{font-family:sans-serif;margin:1.2em auto;max-width:1500px;\
color:#222;padding:0 1em}h1{font-size:1.5em}h2{font-size:1.2em;margin-top:1.6em;\
border-bottom:1px solid #ccc}table{border-collapse:collapse;font-size:.85em;margin:.5em 0}\
th,td{padding:2px 8px;border-bottom:1px solid #e4e4e4;text-align:left}td.num{text-align:right;\
font-variant-numeric:tabular-nums}th{background:#f2f2f2}.figs{display:flex;flex-wrap:wrap;\
gap:14px}figure.chart{margin:0;border:1px solid #c9cacb;padding:4px;background:#fff}\
figure.chart svg{display:block}figcaption{font-size:.8em;color:#444;max-width:560px;\
margin-top:3px}p.note{font-size:.85em;color:#444}dl{display:grid;grid-template-columns:\
max-content auto;gap:2px 14px;font-size:.9em}dt{font-weight:bold}dd{margin:0}";

/// The whole page: `title`, a provenance list `(term, value)`, then the sections.
pub fn page(title: &str, provenance: &[(String, String)], sections: &[Section]) -> String {
    let mut s = String::with_capacity(1 << 16);
    s.push_str("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">");
    s.push_str(
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; \
        style-src 'unsafe-inline'; img-src data:\">",
    );
    s.push_str(&format!("<title>{}</title><style>{STYLE}</style></head><body>\n", esc(title)));
    s.push_str(&format!("<h1>{}</h1>\n<dl class=\"provenance\">", esc(title)));
    for (k, v) in provenance {
        s.push_str(&format!("<dt>{}</dt><dd>{}</dd>", esc(k), esc(v)));
    }
    s.push_str("</dl>\n");
    let mut n = 0usize;
    for sec in sections {
        match &sec.id {
            Some(id) => s.push_str(&format!("<section id=\"{}\">", esc(id))),
            None => s.push_str("<section>"),
        }
        s.push_str(&format!("<h2>{}</h2>", esc(&sec.title)));
        for n in &sec.notes {
            s.push_str(&format!("<p class=\"note\">{}</p>", esc(n)));
        }
        if let Some(t) = &sec.table_html {
            s.push_str(t);
        }
        if !sec.figures.is_empty() {
            s.push_str("<div class=\"figs\">");
            for f in &sec.figures {
                n += 1;
                s.push_str(&format!(
                    "<figure class=\"chart\" id=\"fig-{n}\" data-chart=\"{}\">{}<figcaption>{}</figcaption></figure>",
                    f.kind,
                    f.svg,
                    esc(&f.caption)
                ));
            }
            s.push_str("</div>");
        }
        s.push_str("</section>\n");
    }
    s.push_str("</body></html>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_page_escapes_text_and_links_run_ids() {
        let t = table(
            &["run_id".into(), "amount".into()],
            &[vec!["46".into(), "x<0.05".into()]],
            Some(0),
        );
        assert!(t.contains("<a href=\"#run-46\">46</a>") && t.contains("x&lt;0.05"), "{t}");
        let p = page(
            "sweep <a>",
            &[("symbol".into(), "LTCUSDT".into())],
            &[Section { id: Some("run-46".into()), title: "Run 46".into(), ..Section::default() }],
        );
        assert!(p.contains("<h1>sweep &lt;a&gt;</h1>") && p.contains("<section id=\"run-46\">"));
        assert!(!p.contains("<script") && !p.contains("<link"));
    }
}
