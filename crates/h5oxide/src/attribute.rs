//! Attributes: small named values attached to groups, datasets and committed datatypes.

use std::sync::Arc;

use h5oxide_format::datatype::Datatype;
use h5oxide_format::messages::attribute::AttributeMessage;
use h5oxide_format::messages::dataspace::Dataspace;
use h5oxide_format::object_header::msg;
use h5oxide_format::{Error, Result};
use ndarray::{ArrayD, IxDyn};

use crate::file::FileInner;
use crate::types::H5Type;

/// An attribute, fully read (attributes are small).
///
/// ```no_run
/// let f = h5oxide::File::open("myfile.h5")?;
/// let date = f.group("/experiment1")?.attr("date")?.read_string()?;
/// # Ok::<(), h5oxide::Error>(())
/// ```
#[derive(Clone)]
pub struct Attribute {
    pub(crate) file: Arc<FileInner>,
    pub(crate) name: String,
    pub(crate) dtype: Datatype,
    pub(crate) space: Dataspace,
    pub(crate) data: Vec<u8>,
    /// Address of the committed datatype's object header, when the type is a named one.
    pub(crate) committed_dtype: Option<u64>,
}

impl std::fmt::Debug for Attribute {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "<HDF5 attribute {:?} shape {:?}>",
            self.name,
            self.space.dims()
        )
    }
}

impl Attribute {
    pub(crate) fn from_message(file: &Arc<FileInner>, m: &AttributeMessage) -> Result<Attribute> {
        let ctx = file.ctx();
        let dt_bytes = if m.datatype_shared {
            h5oxide_format::shared::resolve(
                &ctx,
                file.sohm(),
                msg::DATATYPE,
                &m.datatype,
                m.datatype_addr,
            )?
        } else {
            m.datatype.clone()
        };
        let ds_bytes = if m.dataspace_shared {
            h5oxide_format::shared::resolve(
                &ctx,
                file.sohm(),
                msg::DATASPACE,
                &m.dataspace,
                m.dataspace_addr,
            )?
        } else {
            m.dataspace.clone()
        };
        let dtype = Datatype::from_bytes(&dt_bytes, m.datatype_addr, file.sb.sizes)?;
        let committed_dtype = if m.datatype_shared {
            h5oxide_format::shared::committed_address(&ctx, &m.datatype, m.datatype_addr)
                .ok()
                .flatten()
        } else {
            None
        };
        let space =
            Dataspace::decode(&mut ctx.cursor(&ds_bytes, m.dataspace_addr, "dataspace message"))?;
        let n = space
            .num_elements()
            .ok_or_else(|| Error::corrupt("attribute", 0, "element count overflows"))?;
        let need = n
            .checked_mul(dtype.size() as u64)
            .ok_or_else(|| Error::corrupt("attribute", 0, "size overflows"))?;
        if (m.data.len() as u64) < need {
            return Err(Error::Truncated {
                structure: "attribute data",
                addr: m.dataspace_addr,
                needed: need,
                available: m.data.len() as u64,
            });
        }
        let data = m.data.get(..need as usize).unwrap_or(&[]).to_vec();
        Ok(Attribute {
            file: file.clone(),
            name: String::from_utf8_lossy(&m.name).into_owned(),
            dtype,
            space,
            data,
            committed_dtype,
        })
    }

    /// Address of the committed (named) datatype's object header when the attribute's type is
    /// one, else `None`.
    pub fn committed_dtype(&self) -> Option<u64> {
        self.committed_dtype
    }

    /// The attribute's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The stored datatype.
    pub fn dtype(&self) -> &Datatype {
        &self.dtype
    }

    /// The dataspace.
    pub fn space(&self) -> &Dataspace {
        &self.space
    }

    /// The shape (`[]` for scalar and null).
    pub fn shape(&self) -> Vec<usize> {
        self.space.dims().iter().map(|&d| d as usize).collect()
    }

    /// The stored element bytes (variable-length elements are heap references).
    pub fn raw(&self) -> &[u8] {
        &self.data
    }

    /// The file the attribute belongs to.
    pub fn file_inner(&self) -> &Arc<FileInner> {
        &self.file
    }

    /// Reads the value as an n-dimensional array of `T`.
    pub fn read<T: H5Type>(&self) -> Result<ArrayD<T>> {
        let n = self.space.num_elements().unwrap_or(0) as usize;
        let mut v = vec![T::default(); n];
        if n > 0 {
            T::convert(&self.dtype, &self.data, &mut v)?;
        }
        ArrayD::from_shape_vec(IxDyn(&self.shape()), v).map_err(|e| Error::Invalid(e.to_string()))
    }

    /// Reads a scalar (or the first element) as `T`.
    pub fn read_scalar<T: H5Type>(&self) -> Result<T> {
        let a = self.read::<T>()?;
        a.iter()
            .next()
            .copied()
            .ok_or_else(|| Error::Invalid(format!("attribute {} is empty", self.name)))
    }

    /// Reads a string attribute (fixed or variable length) as text; the first element if it is
    /// an array.
    pub fn read_string(&self) -> Result<String> {
        self.read_strings()?
            .into_iter()
            .next()
            .ok_or_else(|| Error::Invalid(format!("attribute {} is empty", self.name)))
    }

    /// Reads every element of a string attribute.
    pub fn read_strings(&self) -> Result<Vec<String>> {
        crate::strings::read_strings(&self.file, &self.dtype, &self.data)
    }
}

/// All attributes of the object at `addr`, in name order.
pub(crate) fn attributes_of(file: &Arc<FileInner>, addr: u64) -> Result<Vec<Attribute>> {
    let oh = file.header(addr)?;
    let attrs = h5oxide_format::attributes::attribute_messages_with(&file.ctx(), &oh, file.sohm())?;
    let mut out = attrs
        .attributes
        .iter()
        .map(|a| Attribute::from_message(file, &a.message))
        .collect::<Result<Vec<_>>>()?;
    out.sort_by(|a, b| a.name.as_bytes().cmp(b.name.as_bytes()));
    Ok(out)
}

/// The attribute `name` of the object at `addr`.
pub(crate) fn attribute_of(file: &Arc<FileInner>, addr: u64, name: &str) -> Result<Attribute> {
    let oh = file.header(addr)?;
    let m = h5oxide_format::attributes::lookup(&file.ctx(), &oh, file.sohm(), name.as_bytes())?
        .ok_or_else(|| Error::NotFound(format!("attribute {name:?}")))?;
    Attribute::from_message(file, &m)
}
