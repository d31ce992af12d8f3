fn main() {
    let img = image::RgbImage::from_fn(256, 256, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, 128])
    });
    let t = std::time::Instant::now();
    for _ in 0..200 {
        let mut out = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 90)
            .encode_image(&img)
            .unwrap();
        std::hint::black_box(out);
    }
    println!(
        "jpeg encode 256: {:.3} ms",
        t.elapsed().as_secs_f64() * 1000.0 / 200.0
    );
    let who = duxue_media::identity(3);
    let t = std::time::Instant::now();
    for i in 0..200 {
        std::hint::black_box(duxue_media::face_image(&who, i));
    }
    println!(
        "face_image: {:.3} ms",
        t.elapsed().as_secs_f64() * 1000.0 / 200.0
    );
}
