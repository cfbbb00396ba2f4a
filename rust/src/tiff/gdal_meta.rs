//! GDAL private tags: GDAL_NODATA (42113) and GDAL_METADATA (42112) per-band SCALE/OFFSET.

/// Parse GDAL_NODATA text ("nan", "-inf", "-9999", ...); None when unparsable.
pub(crate) fn parse_nodata(text: &str) -> Option<f64> {
    let t = text.trim_matches(|c: char| c.is_whitespace() || c == '\0');
    if t.is_empty() {
        return None;
    }
    t.parse::<f64>().ok()
}

/// Value of attribute `name` in the inside of an XML start tag.
fn attr<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let mut from = 0;
    while let Some(pos) = tag.get(from..)?.find(name) {
        let at = from + pos;
        from = at + name.len();
        let before_ok = tag
            .get(..at)
            .and_then(|s| s.chars().next_back())
            .is_some_and(char::is_whitespace);
        let rest = tag.get(from..)?.trim_start();
        let Some(rest) = rest.strip_prefix('=') else {
            continue;
        };
        if !before_ok {
            continue;
        }
        let rest = rest.trim_start();
        let quote = rest.chars().next().filter(|c| *c == '"' || *c == '\'')?;
        let body = rest.get(1..)?;
        let end = body.find(quote)?;
        return body.get(..end);
    }
    None
}

/// Per-sample SCALE and OFFSET items of GDAL_METADATA; each vector has `samples` entries,
/// or is empty when no item of that kind exists.
pub(crate) fn parse_scale_offset(
    xml: &str,
    samples: usize,
) -> (Vec<Option<f64>>, Vec<Option<f64>>) {
    let mut scales = vec![None; samples];
    let mut offsets = vec![None; samples];
    let (mut any_scale, mut any_offset) = (false, false);
    let mut rest = xml;
    while let Some(start) = rest.find("<Item") {
        let Some(after) = rest.get(start + 5..) else {
            break;
        };
        let Some(gt) = after.find('>') else { break };
        let head = after.get(..gt).unwrap_or("");
        let body_all = after.get(gt + 1..).unwrap_or("");
        let (body, next) = match body_all.find("</Item>") {
            Some(e) => (
                body_all.get(..e).unwrap_or(""),
                body_all.get(e + 7..).unwrap_or(""),
            ),
            None => (body_all, ""),
        };
        rest = next;
        if head.ends_with('/') {
            continue;
        }
        let name = attr(head, "name").unwrap_or("");
        let role = attr(head, "role").unwrap_or("");
        let Some(sample) = attr(head, "sample").and_then(|s| s.trim().parse::<usize>().ok()) else {
            continue;
        };
        let value = body.trim().parse::<f64>().ok();
        let is_scale = name.eq_ignore_ascii_case("SCALE") || role.eq_ignore_ascii_case("scale");
        let is_offset = name.eq_ignore_ascii_case("OFFSET") || role.eq_ignore_ascii_case("offset");
        if is_scale {
            any_scale = true;
            if let Some(slot) = scales.get_mut(sample) {
                *slot = value;
            }
        } else if is_offset {
            any_offset = true;
            if let Some(slot) = offsets.get_mut(sample) {
                *slot = value;
            }
        }
    }
    if !any_scale {
        scales.clear();
    }
    if !any_offset {
        offsets.clear();
    }
    (scales, offsets)
}
