//! QR codes, as SVG: the second factor's enrolment (an `otpauth://` URI) and a printed
//! ticket's page address.

/// `text` as a QR code, an SVG at least `size` pixels square, with its quiet zone.
pub(crate) fn svg(text: &str, size: u32) -> anyhow::Result<String> {
    let code = qrcode::QrCode::new(text.as_bytes()).map_err(|e| anyhow::anyhow!("qr code: {e}"))?;
    Ok(code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(size, size)
        .quiet_zone(true)
        .build())
}
