//! The device burn learns on, chosen once per run from `--device`.

use anyhow::{bail, Result};
use burn::prelude::*;
use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;
use burn::tensor::DeviceKind;

use crate::config::InputError;

/// Where training learns (`--device`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LearnOn {
    /// A hardware GPU when wgpu sees one and burn runs on it, else the CPU.
    Auto,
    /// The CPU (burn's flex backend).
    Cpu,
    /// A hardware GPU, or an error.
    Gpu,
    /// wgpu's default adapter, even a software one (exercises the GPU path anywhere, slowly).
    Wgpu,
}

/// The device burn learns on. `auto` takes a hardware GPU when wgpu sees one, else the CPU
/// (flex); `gpu` insists on a hardware GPU; `wgpu` takes wgpu's default adapter even when it is
/// a software one (lavapipe), which exercises the GPU code path on any machine, slowly.
pub fn learning_device(choice: LearnOn) -> Result<(Device, String)> {
    let hardware = || {
        crate::render::adapters()
            .into_iter()
            .find(|a| ["DiscreteGpu", "IntegratedGpu", "VirtualGpu"].contains(&a.kind.as_str()))
    };
    match choice {
        LearnOn::Cpu => Ok((Device::flex(), "cpu (flex)".into())),
        LearnOn::Auto => Ok(match hardware() {
            Some(a) => match runs_on(Device::wgpu(DeviceKind::DefaultDevice)) {
                Some(d) => (d, format!("gpu (wgpu: {})", a.name)),
                None => (
                    Device::flex(),
                    format!("cpu (flex; burn's wgpu backend failed on {})", a.name),
                ),
            },
            None => (Device::flex(), "cpu (flex; no GPU adapter)".into()),
        }),
        LearnOn::Gpu => match hardware() {
            Some(a) => match runs_on(Device::wgpu(DeviceKind::DefaultDevice)) {
                Some(d) => Ok((d, format!("gpu (wgpu: {})", a.name))),
                None => bail!(
                    "--device gpu: burn's wgpu backend failed a test pass on {}; use --device cpu",
                    a.name
                ),
            },
            None => Err(InputError(format!(
                "--device gpu: wgpu sees no hardware GPU (adapters: {}); use --device cpu or auto",
                adapter_names()
            ))
            .into()),
        },
        LearnOn::Wgpu => match runs_on(Device::wgpu(DeviceKind::DefaultDevice)) {
            Some(d) => Ok((d, format!("wgpu default adapter ({})", adapter_names()))),
            None => bail!(
                "--device wgpu: burn's wgpu backend failed a test pass on this machine's adapters ({}); use --device cpu",
                adapter_names()
            ),
        },
    }
}

/// The device if a small forward and backward pass runs on it (a GPU whose driver burn's wgpu
/// backend cannot use panics there); `auto` then falls back to the CPU.
fn runs_on(device: Device) -> Option<Device> {
    let d = device.clone();
    let ok = std::panic::catch_unwind(move || {
        let ad = d.autodiff();
        let x = Tensor::<4>::ones([1, 1, 4, 4], &ad).require_grad();
        let k = Tensor::<4>::ones([1, 1, 3, 3], &ad);
        let y = conv2d(
            x.clone(),
            k,
            None,
            ConvOptions::new([1, 1], [1, 1], [1, 1], 1),
        );
        let g = y.sum().backward();
        x.grad(&g).is_some()
    });
    match ok {
        Ok(true) => Some(device),
        _ => None,
    }
}

fn adapter_names() -> String {
    let names: Vec<String> = crate::render::adapters()
        .into_iter()
        .map(|a| format!("{} [{}]", a.name, a.kind))
        .collect();
    if names.is_empty() {
        "none".into()
    } else {
        names.join(", ")
    }
}
