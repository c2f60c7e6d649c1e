//! Average precision of one class, computed the way pycocotools' COCOeval does for boxes:
//! detections of each image matched greedily, best score first, to the unmatched labelled box
//! they overlap most (IoU at or above the threshold); precision made monotone and read at 101
//! recall points; AP the mean over IoU 0.50, 0.55, …, 0.95. Crowd regions are not modelled: the
//! caller leaves them out.

/// One detection: a box `[x, y, w, h]` and its score.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Detection {
    pub bbox: [f32; 4],
    pub score: f32,
}

/// Intersection over union of two `[x, y, w, h]` boxes.
pub fn iou(a: &[f32; 4], b: &[f32; 4]) -> f32 {
    let (ax1, ay1, bx1, by1) = (a[0] + a[2], a[1] + a[3], b[0] + b[2], b[1] + b[3]);
    let iw = (ax1.min(bx1) - a[0].max(b[0])).max(0.0);
    let ih = (ay1.min(by1) - a[1].max(b[1])).max(0.0);
    let inter = iw * ih;
    let union = a[2] * a[3] + b[2] * b[3] - inter;
    if union <= 0.0 {
        0.0
    } else {
        inter / union
    }
}

/// AP at one IoU threshold over images (`dets[i]` and `truth[i]` belong to image i). `None`
/// when no image holds a labelled box (nothing to recall).
pub fn average_precision(
    dets: &[Vec<Detection>],
    truth: &[Vec<[f32; 4]>],
    thr: f32,
) -> Option<f64> {
    let n_truth: usize = truth.iter().map(Vec::len).sum();
    if n_truth == 0 {
        return None;
    }
    // (score, true positive) of every detection
    let mut scored: Vec<(f32, bool)> = Vec::new();
    for (d, t) in dets.iter().zip(truth) {
        let mut order: Vec<&Detection> = d.iter().collect();
        order.sort_by(|a, b| b.score.total_cmp(&a.score));
        let mut taken = vec![false; t.len()];
        for det in order {
            let mut best = (thr, None);
            for (j, gt) in t.iter().enumerate() {
                let v = iou(&det.bbox, gt);
                if !taken[j] && v >= best.0 {
                    best = (v, Some(j));
                }
            }
            if let Some(j) = best.1 {
                taken[j] = true;
            }
            scored.push((det.score, best.1.is_some()));
        }
    }
    // a stable sort, as COCOeval's mergesort: equal scores keep image order
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    let (mut tp, mut fp) = (0usize, 0usize);
    let mut recall = Vec::with_capacity(scored.len());
    let mut precision = Vec::with_capacity(scored.len());
    for (_, hit) in &scored {
        if *hit {
            tp += 1;
        } else {
            fp += 1;
        }
        recall.push(tp as f64 / n_truth as f64);
        precision.push(tp as f64 / (tp + fp) as f64);
    }
    for i in (1..precision.len()).rev() {
        precision[i - 1] = precision[i - 1].max(precision[i]);
    }
    let mut sum = 0.0;
    for k in 0..=100 {
        let r = k as f64 / 100.0;
        let i = recall.partition_point(|&v| v < r);
        sum += precision.get(i).copied().unwrap_or(0.0);
    }
    Some(sum / 101.0)
}

/// (AP50, AP over IoU 0.50:0.95) as COCOeval reports them; `None` without labelled boxes.
pub fn coco_ap(dets: &[Vec<Detection>], truth: &[Vec<[f32; 4]>]) -> Option<(f64, f64)> {
    let ap50 = average_precision(dets, truth, 0.5)?;
    let mean = (ap50
        + (1..10)
            .map(|k| average_precision(dets, truth, 0.5 + 0.05 * k as f32).unwrap_or(0.0))
            .sum::<f64>())
        / 10.0;
    Some((ap50, mean))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn det(x: f32, y: f32, s: f32) -> Detection {
        Detection {
            bbox: [x, y, 10.0, 10.0],
            score: s,
        }
    }

    #[test]
    fn iou_of_boxes() {
        let a = [0.0, 0.0, 10.0, 10.0];
        assert_eq!(iou(&a, &a), 1.0);
        assert_eq!(iou(&a, &[20.0, 0.0, 10.0, 10.0]), 0.0);
        // half overlapping: 50 / 150
        assert!((iou(&a, &[5.0, 0.0, 10.0, 10.0]) - 1.0 / 3.0).abs() < 1e-6);
    }

    #[test]
    fn perfect_detections_score_one_and_misses_lower_recall() {
        let truth = vec![vec![[0.0, 0.0, 10.0, 10.0], [50.0, 50.0, 10.0, 10.0]]];
        let all = vec![vec![det(0.0, 0.0, 0.9), det(50.0, 50.0, 0.8)]];
        assert_eq!(coco_ap(&all, &truth), Some((1.0, 1.0)));
        // one of two found: precision 1 up to recall 0.5, then nothing: 51 of 101 points
        let half = vec![vec![det(0.0, 0.0, 0.9)]];
        let ap = average_precision(&half, &truth, 0.5).unwrap();
        assert!((ap - 51.0 / 101.0).abs() < 1e-9, "{ap}");
        // a false positive ranked first halves the precision at every recall
        let fp_first = vec![vec![
            det(90.0, 0.0, 0.95),
            det(0.0, 0.0, 0.9),
            det(50.0, 50.0, 0.8),
        ]];
        let ap = average_precision(&fp_first, &truth, 0.5).unwrap();
        // precision 1/2 at recall .5 and 2/3 at recall 1, made monotone: 2/3 everywhere
        assert!((ap - 2.0 / 3.0).abs() < 1e-9, "{ap}");
    }

    /// Five images of boxes and jittered detections (drawn by a script) against the figures
    /// pycocotools' COCOeval gives for them: AP 0.03583215464403583, AP50 0.21122112211221125.
    #[test]
    fn agrees_with_pycocotools() {
        type Case = (Vec<[f32; 4]>, Vec<([f32; 4], f32)>);
        let cases: Vec<Case> = vec![
            (
                vec![[75.0, 69.0, 12.0, 19.0]],
                vec![
                    ([78.0, 66.0, 16.0, 14.0], 0.909),
                    ([78.0, 69.0, 15.0, 17.0], 0.192),
                    ([69.0, 70.0, 15.0, 15.0], 0.476),
                    ([81.0, 19.0, 15.0, 15.0], 0.232),
                    ([19.0, 66.0, 15.0, 15.0], 0.39),
                ],
            ),
            (vec![], vec![]),
            (
                vec![[75.0, 5.0, 17.0, 8.0]],
                vec![
                    ([78.0, 7.0, 18.0, 9.0], 0.728),
                    ([17.0, 46.0, 15.0, 15.0], 0.097),
                    ([17.0, 63.0, 15.0, 15.0], 0.217),
                    ([86.0, 55.0, 15.0, 15.0], 0.779),
                ],
            ),
            (
                vec![[53.0, 64.0, 20.0, 26.0], [87.0, 3.0, 16.0, 27.0]],
                vec![
                    ([57.0, 66.0, 24.0, 24.0], 0.904),
                    ([85.0, 4.0, 19.0, 31.0], 0.569),
                    ([86.0, 3.0, 15.0, 23.0], 0.063),
                    ([11.0, 44.0, 15.0, 15.0], 0.801),
                    ([52.0, 19.0, 15.0, 15.0], 0.02),
                    ([54.0, 98.0, 15.0, 15.0], 0.415),
                ],
            ),
            (vec![], vec![]),
        ];
        let truth: Vec<Vec<[f32; 4]>> = cases.iter().map(|c| c.0.clone()).collect();
        let dets: Vec<Vec<Detection>> = cases
            .iter()
            .map(|c| {
                c.1.iter()
                    .map(|&(bbox, score)| Detection { bbox, score })
                    .collect()
            })
            .collect();
        let (ap50, ap) = coco_ap(&dets, &truth).unwrap();
        assert!((ap50 - 0.21122112211221125).abs() < 1e-9, "{ap50}");
        assert!((ap - 0.03583215464403583).abs() < 1e-9, "{ap}");
    }

    #[test]
    fn a_box_is_matched_once_and_nothing_to_find_is_none() {
        let truth = vec![vec![[0.0, 0.0, 10.0, 10.0]]];
        // the duplicate is a false positive, ranked below the hit: AP stays 1
        let dup = vec![vec![det(0.0, 0.0, 0.9), det(1.0, 0.0, 0.5)]];
        assert_eq!(average_precision(&dup, &truth, 0.5), Some(1.0));
        assert_eq!(average_precision(&dup, &[vec![]], 0.5), None);
        // a loose box counts at IoU .5 but not at .95
        let loose = vec![vec![det(2.0, 0.0, 0.9)]];
        let (ap50, ap) = coco_ap(&loose, &truth).unwrap();
        assert_eq!(ap50, 1.0);
        assert!(ap < 0.5, "{ap}");
    }
}
