//! `close()` of a native object, run on libuv's thread pool: closing waits (for linger, for the
//! threads to stop, for what is held to be written), and the JS thread must not.

use napi::{Env, Result, Task};

pub struct Closing {
    close: Option<Box<dyn FnOnce() + Send>>,
}

impl Closing {
    pub fn new(close: impl FnOnce() + Send + 'static) -> Closing {
        Closing {
            close: Some(Box::new(close)),
        }
    }
}

impl Task for Closing {
    type Output = ();
    type JsValue = ();

    fn compute(&mut self) -> Result<()> {
        if let Some(close) = self.close.take() {
            close();
        }
        Ok(())
    }

    fn resolve(&mut self, _env: Env, _output: ()) -> Result<()> {
        Ok(())
    }
}
