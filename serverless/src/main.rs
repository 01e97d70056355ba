//! The Lambda function (`bootstrap`): settings from the environment
//! (`HITMAP_STORE=s3://bucket/prefix`, see the crate's README), the store
//! opened once per instance, then the runtime loop.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    let settings = hitmap_serverless::Settings::from_env()?;
    let handler = hitmap_serverless::Handler::new(&settings)?;
    hitmap_serverless::run(handler).await
}
