# premetrics: a static binary on a distroless base.
# docker build -t premetrics . && docker run -p 9201:9201 -v $PWD/config.yaml:/etc/premetrics/config.yaml premetrics
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /premetrics ./cmd/premetrics

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /premetrics /usr/bin/premetrics
COPY config.example.yaml /etc/premetrics/config.yaml
VOLUME /var/lib/premetrics
EXPOSE 9201
ENV PREMETRICS_LISTEN=0.0.0.0:9201
ENTRYPOINT ["/usr/bin/premetrics"]
CMD ["run", "--config.file=/etc/premetrics/config.yaml", "--storage.path=/var/lib/premetrics"]
