//! The one place a wgpu device is made: picks a GPU when there is one, else Mesa's lavapipe
//! (software Vulkan), else GL; says which package to install when there is none. Everything else
//! takes `&Device, &Queue` from here.

use thiserror::Error;

/// Why no device could be made, or a device stopped working.
#[derive(Debug, Error)]
pub enum DeviceError {
    #[error(
        "the graphics device stopped working ({0}); the images written so far \
         are kept: run the same command with --resume once `rendergan devices` lists the adapter \
         again"
    )]
    Lost(String),
    #[error(
        "no graphics adapter found (neither a GPU nor a software renderer). On Debian/Ubuntu install \
         Mesa's software Vulkan driver: `sudo apt-get install -y mesa-vulkan-drivers`; check with \
         `rendergan devices`"
    )]
    NoAdapter,
    #[error("the adapter {name} refused to open a device: {source}")]
    Device {
        name: String,
        #[source]
        source: wgpu::RequestDeviceError,
    },
}

/// An adapter as `rendergan devices` lists it.
#[derive(Debug, Clone)]
pub struct AdapterSummary {
    pub name: String,
    pub backend: String,
    pub kind: String,
    pub driver: String,
}

/// A device and queue plus what adapter they came from.
pub struct RenderContext {
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    pub info: wgpu::AdapterInfo,
}

/// An instance on `backends`, unless the WGPU_BACKEND variable names others.
fn instance(backends: wgpu::Backends) -> wgpu::Instance {
    // Mesa's Vulkan loader probes Wayland and prints an error when this is unset, as it is on
    // headless machines; nothing here uses a display, so any folder will do.
    if std::env::var_os("XDG_RUNTIME_DIR").is_none() {
        std::env::set_var("XDG_RUNTIME_DIR", std::env::temp_dir());
    }
    let mut desc = wgpu::InstanceDescriptor::new_without_display_handle_from_env();
    if std::env::var_os("WGPU_BACKEND").is_none() {
        desc.backends = backends;
    }
    desc.flags = wgpu::InstanceFlags::empty();
    wgpu::Instance::new(desc)
}

fn rank(info: &wgpu::AdapterInfo) -> u32 {
    let kind = match info.device_type {
        wgpu::DeviceType::DiscreteGpu => 0,
        wgpu::DeviceType::IntegratedGpu => 1,
        wgpu::DeviceType::VirtualGpu => 2,
        wgpu::DeviceType::Cpu => 3,
        wgpu::DeviceType::Other => 4,
    };
    // prefer Vulkan (lavapipe) over GL for the same kind of device
    let backend = if info.backend == wgpu::Backend::Vulkan {
        0
    } else {
        1
    };
    kind * 2 + backend
}

/// The backends rendergan uses.
const BACKENDS: wgpu::Backends = wgpu::Backends::VULKAN
    .union(wgpu::Backends::GL)
    .union(wgpu::Backends::METAL)
    .union(wgpu::Backends::DX12);

/// Every adapter wgpu can see on `backends`, best first.
fn sorted_adapters(backends: wgpu::Backends) -> Vec<wgpu::Adapter> {
    let mut list = pollster::block_on(instance(backends).enumerate_adapters(backends));
    list.sort_by_key(|a| rank(&a.get_info()));
    list
}

/// Every adapter wgpu can see, best first, as `rendergan devices` lists them.
pub fn adapters() -> Vec<AdapterSummary> {
    sorted_adapters(BACKENDS)
        .iter()
        .map(|a| {
            let i = a.get_info();
            AdapterSummary {
                name: i.name.clone(),
                backend: format!("{:?}", i.backend),
                kind: format!("{:?}", i.device_type),
                driver: format!("{} {}", i.driver, i.driver_info).trim().to_string(),
            }
        })
        .collect()
}

impl RenderContext {
    /// Opens the best adapter: GPU, then lavapipe, then GL.
    pub fn new() -> Result<RenderContext, DeviceError> {
        let usable = |backends| {
            let mut list = sorted_adapters(backends);
            // the "alone" pass sets coverage bits from fragment shaders
            list.retain(|a| {
                a.get_downlevel_capabilities()
                    .flags
                    .contains(wgpu::DownlevelFlags::FRAGMENT_WRITABLE_STORAGE)
            });
            list
        };
        // GL is asked only when nothing else is there: probing it loads Mesa's GL driver, which
        // costs a run about 40 ms of start-up
        let mut list = usable(BACKENDS - wgpu::Backends::GL);
        if list.is_empty() {
            list = usable(BACKENDS);
        }
        let adapter = list.into_iter().next().ok_or(DeviceError::NoAdapter)?;
        let info = adapter.get_info();
        let limits = wgpu::Limits {
            max_texture_dimension_2d: adapter.limits().max_texture_dimension_2d.min(8192),
            max_storage_buffer_binding_size: adapter.limits().max_storage_buffer_binding_size,
            max_buffer_size: adapter.limits().max_buffer_size,
            // the learned stages between render and readback bind five (augment::gpu::fused)
            max_storage_buffers_per_shader_stage: adapter
                .limits()
                .max_storage_buffers_per_shader_stage
                .min(8),
            ..wgpu::Limits::downlevel_defaults()
        };
        let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
            label: Some("rendergan device"),
            required_features: wgpu::Features::empty(),
            required_limits: limits,
            experimental_features: wgpu::ExperimentalFeatures::disabled(),
            memory_hints: wgpu::MemoryHints::Performance,
            trace: wgpu::Trace::Off,
        }))
        .map_err(|source| DeviceError::Device {
            name: info.name.clone(),
            source,
        })?;
        Ok(RenderContext {
            device,
            queue,
            info,
        })
    }

    /// Whether the adapter is a software rasteriser (lavapipe, llvmpipe), which renders on the
    /// CPU cores.
    pub fn is_software(&self) -> bool {
        self.info.device_type == wgpu::DeviceType::Cpu
    }

    /// "llvmpipe (Vulkan, Cpu)"-style description for logs.
    pub fn describe(&self) -> String {
        format!(
            "{} ({:?}, {:?})",
            self.info.name, self.info.backend, self.info.device_type
        )
    }
}

/// Maps `slices` (of buffers made with `MAP_READ`) for reading and waits until they are: the
/// one readback of the crate (the render's batch, the augmentation's). `submission` is the
/// work to wait for (`None`: all of it); `what` names the batch in the error. Anything that goes
/// wrong here is the device lost ([`DeviceError::Lost`], whose message says how to `--resume`).
pub fn map_read(
    device: &wgpu::Device,
    slices: &[wgpu::BufferSlice<'_>],
    submission: Option<wgpu::SubmissionIndex>,
    what: &str,
) -> Result<(), DeviceError> {
    let (tx, rx) = std::sync::mpsc::channel();
    for slice in slices {
        let tx = tx.clone();
        slice.map_async(wgpu::MapMode::Read, move |r| {
            let _ = tx.send(r);
        });
    }
    device
        .poll(wgpu::PollType::Wait {
            submission_index: submission,
            timeout: None,
        })
        .map_err(|e| DeviceError::Lost(format!("waiting for {what}: {e}")))?;
    for _ in slices {
        match rx.try_recv() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(DeviceError::Lost(format!("reading {what} back: {e}"))),
            Err(e) => return Err(DeviceError::Lost(format!("reading {what} back: {e}"))),
        }
    }
    Ok(())
}

/// The mapped bytes of a slice [`map_read`] mapped.
pub fn mapped<'a>(
    slice: &wgpu::BufferSlice<'a>,
    what: &str,
) -> Result<wgpu::BufferView, DeviceError> {
    slice
        .get_mapped_range()
        .map_err(|e| DeviceError::Lost(format!("reading {what} back: {e}")))
}
